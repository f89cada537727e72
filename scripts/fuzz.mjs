// The long fuzz run (issue 7, "the harness that finds the next ones"): every target of test/fuzz/targets.ts, the
// same properties as the suite's short run, many more cases, no shrinking: crashes are counted per parser and the
// first input of each distinct crash is printed (and saved with the rest in .tmp/fuzz-report.json) to replay.
//
//   npm run fuzz                          8 000 cases per target (16 targets: 128 000 in all)
//   npm run fuzz -- --runs 20000 --seed 7 --only token-response
//
// Exit code 0 when no target crashed, 1 otherwise. The targets are TypeScript: bundled first with esbuild (the
// dependencies stay external and load from node_modules as in the tests), except jsonc-parser: its ESM build
// imports "./impl/format" without an extension, which Node's ESM loader refuses (vitest and the CLI bundle both
// resolve it for us), so it is bundled in.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const runs = Number(arg("runs", 8000));
const seed = Number(arg("seed", 20261201));
const only = arg("only", "");
const chunk = 500;

mkdirSync(".tmp", { recursive: true });
const outfile = join(".tmp", "fuzz-targets.mjs");
await build({
  entryPoints: ["test/fuzz/targets.ts"],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: Object.keys({
    ...JSON.parse(readFileSync("package.json", "utf8")).dependencies,
    ...JSON.parse(readFileSync("package.json", "utf8")).devDependencies,
  }).filter((name) => name !== "jsonc-parser"),
  logLevel: "warning",
});
const { TARGETS, takeOutcome } = await import(pathToFileURL(outfile).href);
const fc = (await import("fast-check")).default;

// Library warnings (the memory store's emitWarning for damaged records, YAML's tag warnings) are expected here.
const warnings = new Map();
process.removeAllListeners("warning");
process.on("warning", (w) => warnings.set(w.name, (warnings.get(w.name) ?? 0) + 1));

const report = { seed, runsPerTarget: runs, startedAt: new Date().toISOString(), targets: [] };
let total = 0;
let crashes = 0;
const t0 = Date.now();
console.log(`fuzz: seed ${seed}, ${runs} cases per target`);
for (const target of TARGETS) {
  if (only && !target.name.includes(only)) continue;
  target.setup?.();
  const started = Date.now();
  const distinct = new Map();
  let n = 0;
  let crashed = 0;
  const outcomes = new Map();
  for (let done = 0; done < runs; done += chunk) {
    // Each chunk its own seed, so a crash replays with fc.sample(arbitrary, { seed, numRuns: chunk }).
    const inputs = fc.sample(target.arbitrary, { numRuns: Math.min(chunk, runs - done), seed: seed + done });
    for (const input of inputs) {
      n++;
      takeOutcome();
      try {
        await target.run(input);
        const o = takeOutcome();
        if (o) outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
      } catch (e) {
        crashed++;
        const kind = `${e?.name ?? typeof e}: ${String(e?.message ?? e)
          .split("\n")[0]
          .slice(0, 160)}`;
        if (!distinct.has(kind)) {
          distinct.set(kind, { count: 0, chunkSeed: seed + done, input: JSON.stringify(input)?.slice(0, 600) });
        }
        distinct.get(kind).count++;
      }
    }
  }
  target.teardown?.();
  const ms = Date.now() - started;
  total += n;
  crashes += crashed;
  const top = [...outcomes].sort((a, b) => b[1] - a[1]);
  report.targets.push({
    name: target.name,
    cases: n,
    crashes: crashed,
    ms,
    outcomes: Object.fromEntries(top),
    distinct: Object.fromEntries(distinct),
  });
  const shown = top
    .slice(0, 4)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  console.log(
    `${target.name.padEnd(28)} ${String(n).padStart(7)} cases  ${String(crashed).padStart(5)} crashes  ${(ms / 1000).toFixed(1).padStart(6)} s${shown ? `  (${shown}${top.length > 4 ? ", …" : ""})` : ""}`,
  );
  for (const [kind, d] of distinct) console.log(`    ${d.count}× ${kind}\n      first input: ${d.input}`);
}
report.total = { cases: total, crashes, ms: Date.now() - t0 };
report.warnings = Object.fromEntries(warnings);
writeFileSync(join(".tmp", "fuzz-report.json"), `${JSON.stringify(report, null, 2)}\n`);
console.log(
  `total                        ${String(total).padStart(7)} cases  ${String(crashes).padStart(5)} crashes  ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s`,
);
console.log("report: .tmp/fuzz-report.json");
process.exitCode = crashes === 0 ? 0 : 1;
