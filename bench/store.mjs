// FileTokenStore latency against plain-fs baselines measured in the same run, on the same file, so the ratios hold
// across machines. Usage: node bench/store.mjs [--json]
// The store is bundled from source with esbuild first, so this needs no `npm run build`.
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

  async function measure(name, iterations, fn) {
    for (let i = 0; i < Math.min(50, iterations); i++) await fn(i); // warm up
    const samples = [];
    for (let i = 0; i < iterations; i++) {
      const t = process.hrtime.bigint();
      await fn(i);
      samples.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    samples.sort((a, b) => a - b);
    return {
      name,
      iterations,
      p50: samples[Math.floor(samples.length / 2)],
      p95: samples[Math.floor(samples.length * 0.95)],
    };
  }

  const results = {
    readBaseline: await measure("fs.readFile + JSON.parse (baseline)", 3000, async () =>
      JSON.parse(await readFile(file, "utf8")),
    ),
    get: await measure("store.get", 3000, () => store.get(key)),
    writeBaseline: await measure("fs.writeFile + fsync, in place (baseline)", 300, async () => {
      const fh = await open(plain, "w", 0o600);
      await fh.writeFile(text);
      await fh.sync();
      await fh.close();
    }),
    set: await measure("store.set (temp+fsync+rename+dir fsync)", 300, (i) =>
      store.set(key, { ...record, updatedAt: i }),
    ),
    lock: await measure("store.withLock(noop)", 500, () => store.withLock(key, async () => {})),
    lockedRefresh: await measure("withLock(get + set)", 300, (i) =>
      store.withLock(key, async () => {
        const r = await store.get(key);
        await store.set(key, { ...r, updatedAt: i });
      }),
    ),
  };
  await writeFile(plain, "");
  const ratio = (a, b) => (results[a].p50 / results[b].p50).toFixed(2);
  const ratios = {
    "get / readFile": ratio("get", "readBaseline"),
    "set / writeFile+fsync": ratio("set", "writeBaseline"),
    "withLock(noop) / readFile": ratio("lock", "readBaseline"),
    "withLock(get+set) / writeFile+fsync": ratio("lockedRefresh", "writeBaseline"),
  };
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify({ node: process.version, platform: process.platform, results, ratios }));
  } else {
    console.log(`node ${process.version} ${process.platform}; microseconds`);
    for (const r of Object.values(results)) {
      console.log(
        `${r.name.padEnd(44)} p50 ${r.p50.toFixed(1).padStart(8)}  p95 ${r.p95.toFixed(1).padStart(8)}  (n=${r.iterations})`,
      );
    }
    for (const [k, v] of Object.entries(ratios)) console.log(`${k.padEnd(44)} ×${v}`);
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
