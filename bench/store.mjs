// FileTokenStore latency against plain-fs baselines measured in the same run, on the same file, so the ratios hold
// across machines. Each figure is interleaved with its baseline — one baseline call, one subject call, alternating
// which goes first — so a burst of load hits both alike; the ratio is the median of the per-pair ratios.
// Usage: node bench/store.mjs [--json]
// The store is bundled from source with esbuild first, so this needs no `npm run build`.
import { execFileSync } from "node:child_process";
import { mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = await mkdtemp(join(tmpdir(), "hpauth-bench-store-"));
try {
  const outfile = join(root, "store.mjs");
  await build({
    entryPoints: [new URL("../src/stores/file.ts", import.meta.url).pathname],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "warning",
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  const { FileTokenStore } = await import(pathToFileURL(outfile).href);
  const store = new FileTokenStore({ dir: join(root, "tokens") });
  const key = "profile:bench";
  const record = {
    v: 1,
    provider: "techpulse",
    profile: "bench",
    accessToken: "a".repeat(1200),
    tokenType: "Bearer",
    expiresAt: Date.now() + 3_600_000,
    obtainedAt: Date.now(),
    refreshToken: "r".repeat(300),
    updatedAt: Date.now(),
  };
  await store.set(key, record);
  const file = store.fileFor(key);
  const text = await readFile(file, "utf8");
  const plain = join(root, "plain.json");

  const stats = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return { p50: s[Math.floor(s.length / 2)], p95: s[Math.floor(s.length * 0.95)] };
  };
  const time = async (fn, i) => {
    const t = process.hrtime.bigint();
    await fn(i);
    return Number(process.hrtime.bigint() - t) / 1000;
  };
  /** Subject and baseline interleaved, call by call; µs percentiles of each and the median per-pair ratio. */
  async function compare(name, baseName, iterations, fn, base) {
    for (let i = 0; i < Math.min(50, iterations); i++) {
      await base(i);
      await fn(i); // warm up
    }
    const a = [];
    const b = [];
    const r = [];
    for (let i = 0; i < iterations; i++) {
      let x;
      let y;
      if (i % 2 === 0) {
        y = await time(base, i);
        x = await time(fn, i);
      } else {
        x = await time(fn, i);
        y = await time(base, i);
      }
      a.push(x);
      b.push(y);
      r.push(x / y);
    }
    return { name, baseline: baseName, iterations, subject: stats(a), base: stats(b), ratio: stats(r).p50 };
  }

  const readBaseline = async () => JSON.parse(await readFile(file, "utf8"));
  const writeBaseline = async () => {
    const fh = await open(plain, "w", 0o600);
    await fh.writeFile(text);
    await fh.sync();
    await fh.close();
  };
  const results = {
    get: await compare("store.get", "fs.readFile + JSON.parse", 3000, () => store.get(key), readBaseline),
    set: await compare(
      "store.set (temp+fsync+rename+dir fsync)",
      "fs.writeFile + fsync, in place",
      300,
      (i) => store.set(key, { ...record, updatedAt: i }),
      writeBaseline,
    ),
    lock: await compare(
      "store.withLock(noop)",
      "fs.readFile + JSON.parse",
      500,
      () => store.withLock(key, async () => {}),
      readBaseline,
    ),
    lockedRefresh: await compare(
      "withLock(get + set)",
      "fs.writeFile + fsync, in place",
      300,
      (i) =>
        store.withLock(key, async () => {
          const r = await store.get(key);
          await store.set(key, { ...r, updatedAt: i });
        }),
      writeBaseline,
    ),
  };
  await writeFile(plain, "");
  const ratios = {
    "get / readFile": results.get.ratio.toFixed(2),
    "set / writeFile+fsync": results.set.ratio.toFixed(2),
    "withLock(noop) / readFile": results.lock.ratio.toFixed(2),
    "withLock(get+set) / writeFile+fsync": results.lockedRefresh.ratio.toFixed(2),
  };
  let commit = "unknown";
  try {
    const at = new URL("..", import.meta.url).pathname;
    commit = execFileSync("git", ["-C", at, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    if (execFileSync("git", ["-C", at, "status", "--porcelain", "--", "src", "bench"], { encoding: "utf8" }).trim())
      commit += "+dirty";
  } catch {}
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify({ commit, node: process.version, platform: process.platform, results, ratios }));
  } else {
    console.log(`commit ${commit}, node ${process.version} ${process.platform}; microseconds, subject | its baseline`);
    const f = (x) => x.toFixed(1).padStart(8);
    for (const r of Object.values(results)) {
      console.log(
        `${r.name.padEnd(40)} p50 ${f(r.subject.p50)} p95 ${f(r.subject.p95)} | ${r.baseline.padEnd(30)} p50 ${f(r.base.p50)} p95 ${f(r.base.p95)} | ×${r.ratio.toFixed(2)} (n=${r.iterations} pairs)`,
      );
    }
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
