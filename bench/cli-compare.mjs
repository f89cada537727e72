// Cached `hpauth token` of two built trees, interleaved in one run with `node -e 0` (A B N, rotating the order),
// median of many rounds: for before/after figures of CLI start-up work on a shared, noisy machine.
//
//   node bench/cli-compare.mjs <treeA> <treeB> [--rounds N] [--json]
//
// Each tree is a checkout with a built CLI (bin/hpauth.js + dist/cli.js; `node scripts/build.mjs --cli-only`), e.g.
//   mkdir /tmp/before && git archive <sha> | tar -x -C /tmp/before && ln -s "$PWD/node_modules" /tmp/before/ &&
//   (cd /tmp/before && node scripts/build.mjs --cli-only)
// Also prints, load-independent, what each tree's cached path loads: its files and their bytes (recorded by the
// loader hook test/cli/fixtures/record-modules.mjs). The emulator comes from this tree's dist/ (`npm run build`). Children get a minimal environment; the secret goes
// by environment variable name, never argv.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const argv = process.argv.slice(2);
const flag = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv.splice(i, 2)[1] : undefined;
};
const rounds = Number(flag("--rounds") ?? 30);
const asJson = argv.includes("--json");
const trees = argv.filter((a) => !a.startsWith("--")).map((t) => resolve(t));
if (trees.length !== 2) {
  process.stderr.write("usage: node bench/cli-compare.mjs <treeA> <treeB> [--rounds N] [--json]\n");
  process.exit(2);
}

const repo = fileURLToPath(new URL("..", import.meta.url));
const { startEmulator } = await import(join(repo, "dist", "emulator", "index.js"));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

function run(args, env) {
  return new Promise((done, fail) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    p.stdout.on("data", (c) => {
      out += c;
    });
    p.stderr.resume();
    p.on("error", fail);
    p.on("close", (code) => done({ ms: Number(process.hrtime.bigint() - t0) / 1e6, code, out }));
  });
}

const root = await mkdtemp(join(tmpdir(), "hpauth-cli-compare-"));
const emu = await startEmulator({ port: 0 });
try {
  const gl = emu.providers.greenlake;
  const home = join(root, "home");
  await mkdir(home);
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    XDG_CONFIG_HOME: home,
    XDG_DATA_HOME: home,
    S: gl.clientSecret,
  };
  const argsOf = (tree, i) => [
    join(tree, "bin", "hpauth.js"),
    "token",
    "--provider",
    "greenlake",
    "--base-url",
    gl.baseUrl,
    "--client-id",
    gl.clientId,
    "--client-secret-env",
    "S",
    "--store-dir",
    join(root, `store-${i}`),
  ];
  const cmds = [...trees.map((t, i) => argsOf(t, i)), ["-e", "0"]];
  for (const [i, t] of trees.entries()) {
    const first = await run([...argsOf(t, i), "--json"], env);
    const again = await run([...argsOf(t, i), "--json"], env);
    if (first.code !== 0 || JSON.parse(again.out).source !== "cache") throw new Error(`${t}: no cached token`);
  }
  const loaded = [];
  for (const [i, t] of trees.entries()) {
    const log = join(root, `modules-${i}.jsonl`);
    const recorder = join(repo, "test", "cli", "fixtures", "record-modules.mjs");
    const r = await run(["--import", recorder, ...argsOf(t, i)], { ...env, HPAUTH_TEST_MODULE_LOG: log });
    if (r.code !== 0) throw new Error(`${t}: exit ${r.code} with the module recorder`);
    // A tree whose cached call is answered by the probe (CommonJS, no ES module loaded) may log nothing.
    const urls = (await readFile(log, "utf8").catch(() => ""))
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l).url)
      .filter((u) => u.startsWith("file:") && !u.includes("record-modules"));
    const sizes = await Promise.all(urls.map(async (u) => (await stat(fileURLToPath(u))).size));
    loaded.push({ files: urls.length, bytes: sizes.reduce((a, b) => a + b, 0) });
  }
  for (let i = 0; i < 3; i++) for (const c of cmds) await run(c, env); // warm up
  const ms = cmds.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < cmds.length; k++) {
      const j = (k + r) % cmds.length;
      const res = await run(cmds[j], env);
      if (res.code !== 0) throw new Error(`exit ${res.code}: ${cmds[j].join(" ")}`);
      ms[j].push(res.ms);
    }
  }
  const [a, b, n] = ms.map(median);
  const result = {
    rounds,
    median_ms: { a: round(a), b: round(b), node_e0: round(n) },
    ratio_to_node: { a: round(a / n, 2), b: round(b / n, 2) },
    overhead_ms: { a: round(a - n), b: round(b - n) },
    loaded: { a: loaded[0], b: loaded[1] },
    trees: { a: trees[0], b: trees[1] },
  };
  if (asJson) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(
      `cached hpauth token, ${rounds} interleaved rounds (median)\n` +
        `  A ${trees[0]}: ${result.median_ms.a} ms (×${result.ratio_to_node.a} of node -e 0, +${result.overhead_ms.a} ms)\n` +
        `  B ${trees[1]}: ${result.median_ms.b} ms (×${result.ratio_to_node.b} of node -e 0, +${result.overhead_ms.b} ms)\n` +
        `  node -e 0: ${result.median_ms.node_e0} ms\n` +
        `  loaded on the cached path: A ${loaded[0].files} files, ${loaded[0].bytes} bytes; B ${loaded[1].files} files, ${loaded[1].bytes} bytes\n`,
    );
  }
} finally {
  await emu.close();
  await rm(root, { recursive: true, force: true });
}
