// The Redis token store, measured against a real redis-server started for the run (free loopback port, own data
// dir, stopped by PID) and the emulator's Aruba Central. Usage:
//
//   node bench/redis.mjs            full run (64 processes × 10 rounds, cold and expired)
//   node bench/redis.mjs --quick    N = 1, 16 and 64 once each, fewer timing rounds
//   node bench/redis.mjs --json     one JSON document on stdout
//
// The store, engine, emulator and the test harness (test/stores/redis-server.ts, test/e2e/redis-helpers.ts) are
// bundled from source with esbuild first, so this needs no `npm run build`. Measures:
//   1. token-endpoint calls per token lifetime when N = 1, 16, 64 processes spread over 4 simulated hosts (own
//      HOME/XDG/HOSTNAME) start together on (a) a cold and (b) an expired Aruba credential — goal: exactly 1 — plus
//      failures and distinct tokens;
//   2. cached getToken() through RedisTokenStore ÷ a bare HGET of the same record in the same run, same connection
//      kind (two clients of the same server), interleaved;
//   3. lock hand-over latency: holder on one connection releases, a waiter on another (pub/sub) starts; ÷ a PING
//      round trip; and the same hand-over in the file store for contrast.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
const repo = join(here, "..");
const asJson = process.argv.includes("--json");
const quick = process.argv.includes("--quick");
const log = (line) => {
  if (!asJson) process.stderr.write(`${line}\n`);
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const root = await mkdtemp(join(tmpdir(), "hpauth-bench-redis-"));
// The bundle lives under the repo's node_modules so its one external import (esbuild, which the harness uses to
// bundle the child runner) resolves.
const libDir = await mkdtemp(join(repo, "node_modules", ".cache-hpauth-bench-redis-"));
const entry = join(libDir, "entry.ts");
const src = (p) => JSON.stringify(join(repo, p));
await writeFile(
  entry,
  [
    `export { startRedis } from ${src("test/stores/redis-server.ts")};`,
    `export { bundleRedisEngine, writeRedisRunner, fleetRunner, fleetResult } from ${src("test/e2e/redis-helpers.ts")};`,
    `export { arubaEnv } from ${src("test/e2e/helpers.ts")};`,
    `export { startEmulator } from ${src("src/emulator/index.ts")};`,
    `export { createTokenManager } from ${src("src/engine/manager.ts")};`,
    `export { RedisTokenStore } from ${src("src/stores/redis.ts")};`,
    `export { FileTokenStore } from ${src("src/stores/file.ts")};`,
    `export { createClient } from "redis";`,
  ].join("\n"),
);
await build({
  entryPoints: [entry],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outfile: join(libDir, "bench-lib.mjs"),
  external: ["esbuild", "vitest"],
  logLevel: "warning",
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
const lib = await import(pathToFileURL(join(libDir, "bench-lib.mjs")).href);
const {
  startRedis,
  bundleRedisEngine,
  writeRedisRunner,
  fleetRunner,
  fleetResult,
  arubaEnv,
  startEmulator,
  createTokenManager,
  RedisTokenStore,
  FileTokenStore,
  createClient,
} = lib;

const redis = await startRedis();
const emu = await startEmulator({ port: 0 });
const results = { commit: process.env.BENCH_COMMIT ?? null };
const t0 = Date.now();
try {
  const script = await writeRedisRunner(root, await bundleRedisEngine(root));
  const { profile, secrets } = arubaEnv(emu);
  let prefixes = 0;

  async function counters() {
    return (await emu.admin.counters())["aruba-central"];
  }
  async function seedExpired(prefix) {
    const store = new RedisTokenStore({ url: redis.url, prefix });
    const m = createTokenManager({ profile, store, runtime: { now: () => Date.now() - 7300_000, env: secrets } });
    await m.login();
    await store.close();
    await emu.admin.advanceClock(7300);
  }
  async function raceRound(n, cold) {
    await emu.admin.advanceClock(1801); // the emulator's one-login-per-30-minutes budget
    const prefix = `bench${++prefixes}:`;
    if (!cold) await seedExpired(prefix);
    const before = await counters();
    const fleet = Array.from({ length: n }, (_, i) =>
      fleetRunner(script, { host: i % 4, root, profile, secrets, redisUrl: redis.url, prefix, mode: "race" }),
    );
    await Promise.all(fleet.map((c) => c.waitFor((l) => l === "ready", 120_000)));
    for (const c of fleet) c.proc.kill("SIGUSR2");
    await Promise.all(fleet.map((c) => c.exited));
    const after = await counters();
    const rs = fleet.map((c) => ({ ...fleetResult(c), exit: c.proc.exitCode }));
    return {
      tokenRequests: after.tokenRequests - before.tokenRequests,
      logins: after.logins - before.logins,
      refreshes: after.refreshes - before.refreshes,
      failures: rs.filter((r) => r.exit !== 0).length,
      tokens: new Set(rs.filter((r) => r.ok).map((r) => r.tokenHash)).size,
      failureCodes: [...new Set(rs.filter((r) => r.exit !== 0).map((r) => `${r.code}: ${r.message}`))],
    };
  }

  // ---- 1. token-endpoint calls per token lifetime ----------------------------------------------------------------
  results.fleet = [];
  for (const n of process.env.BENCH_N ? [Number(process.env.BENCH_N)] : [1, 16, 64]) {
    for (const cold of [true, false]) {
      const rounds = quick || n < 64 ? (quick ? 1 : 3) : 10;
      const per = [];
      for (let i = 0; i < rounds; i++) per.push(await raceRound(n, cold));
      const row = {
        processes: n,
        hosts: Math.min(n, 4),
        credential: cold ? "cold" : "expired",
        rounds,
        tokenEndpointCallsPerRound: [...new Set(per.map((p) => p.tokenRequests))],
        logins: per.reduce((a, p) => a + p.logins, 0),
        refreshes: per.reduce((a, p) => a + p.refreshes, 0),
        failures: per.reduce((a, p) => a + p.failures, 0),
        distinctTokensPerRound: [...new Set(per.map((p) => p.tokens))],
        ...(per.some((p) => p.failures) ? { failureCodes: [...new Set(per.flatMap((p) => p.failureCodes))] } : {}),
      };
      results.fleet.push(row);
      log(
        `1. N=${n} ${row.credential}: ${rounds} rounds, token-endpoint calls per round ${row.tokenEndpointCallsPerRound.join("/")}, failures ${row.failures}, tokens per round ${row.distinctTokensPerRound.join("/")}${row.failureCodes ? ` — ${row.failureCodes.join("; ")}` : ""}`,
      );
    }
  }

  // ---- 2. cached getToken() from Redis vs a bare HGET --------------------------------------------------------------
  {
    const prefix = `cache${++prefixes}:`;
    await emu.admin.advanceClock(1801);
    const store = new RedisTokenStore({ url: redis.url, prefix });
    const m = createTokenManager({ profile, store, runtime: { env: secrets } });
    await m.getToken();
    if ((await m.getToken()).source !== "cache") throw new Error("expected a cached token");
    const raw = createClient({ url: redis.url });
    await raw.connect();
    const key = `${prefix}token:${m.key}`;
    const bare = () => raw.hGet(key, "doc");
    const viaEngine = () => m.getToken();
    async function batch(fn, n) {
      const s = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await fn();
      return Number(process.hrtime.bigint() - s) / n / 1000; // µs per call
    }
    await batch(bare, 300);
    await batch(viaEngine, 300);
    const a = [];
    const b = [];
    const r = [];
    const rounds = quick ? 5 : 15;
    for (let i = 0; i < rounds; i++) {
      let x;
      let y;
      if (i % 2 === 0) {
        y = await batch(bare, 1000);
        x = await batch(viaEngine, 1000);
      } else {
        x = await batch(viaEngine, 1000);
        y = await batch(bare, 1000);
      }
      a.push(x);
      b.push(y);
      r.push(x / y);
    }
    results.cachedGetToken = {
      what: "cached getToken() through RedisTokenStore ÷ a bare HGET of the same record (node-redis, same server)",
      rounds,
      usPerCall: round(median(a), 1),
      bareHgetUsPerCall: round(median(b), 1),
      ratio: round(median(r), 2),
    };
    log(
      `2. cached getToken (Redis): ${results.cachedGetToken.usPerCall} µs/call, ×${results.cachedGetToken.ratio} of a bare HGET (${results.cachedGetToken.bareHgetUsPerCall} µs)`,
    );
    await raw.close();
    await store.close();
  }

  // ---- 3. lock hand-over ---------------------------------------------------------------------------------------------
  {
    async function handovers(a, b, n) {
      const lat = [];
      for (let i = 0; i < n; i++) {
        let release;
        let held;
        const isHeld = new Promise((r) => (held = r));
        const holding = a.withLock("k", async () => {
          held();
          await new Promise((r) => (release = r));
        });
        await isHeld;
        let releasedAt = 0;
        const waiting = b.withLock("k", async () => Number(process.hrtime.bigint() - releasedAt) / 1e6);
        await new Promise((r) => setTimeout(r, 30)); // the waiter is subscribed and asleep
        releasedAt = process.hrtime.bigint();
        release();
        await holding;
        lat.push(await waiting);
      }
      return lat;
    }
    const prefix = `lock${++prefixes}:`;
    const a = new RedisTokenStore({ url: redis.url, prefix });
    const b = new RedisTokenStore({ url: redis.url, prefix });
    const n = quick ? 20 : 60;
    await handovers(a, b, 5);
    const redisLat = await handovers(a, b, n);
    const raw = createClient({ url: redis.url });
    await raw.connect();
    const pings = [];
    for (let i = 0; i < 200; i++) {
      const s = process.hrtime.bigint();
      await raw.ping();
      pings.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    await raw.close();
    const fa = new FileTokenStore({ dir: join(root, "file-lock") });
    const fb = new FileTokenStore({ dir: join(root, "file-lock") });
    // Two FileTokenStore instances in one process still queue on separate mutexes and meet at the lock directory.
    const fileLat = await handovers(fa, fb, quick ? 10 : 30);
    results.lockHandover = {
      what: "release by one holder → start of the waiter's fn on another connection (pub/sub wake-up)",
      handovers: n,
      redisMedianMs: round(median(redisLat)),
      redisP90Ms: round([...redisLat].sort((x, y) => x - y)[Math.floor(redisLat.length * 0.9)]),
      pingMedianMs: round(median(pings), 3),
      ratioToPing: round(median(redisLat) / median(pings), 1),
      fileStoreMedianMs: round(median(fileLat)),
    };
    log(
      `3. lock hand-over: Redis median ${results.lockHandover.redisMedianMs} ms (p90 ${results.lockHandover.redisP90Ms}), ×${results.lockHandover.ratioToPing} of a PING; file store median ${results.lockHandover.fileStoreMedianMs} ms`,
    );
    await a.close();
    await b.close();
  }
  results.machine = {
    cpus: availableParallelism?.() ?? cpus().length,
    node: process.version,
    redis: execFileSync("redis-server", ["--version"], { encoding: "utf8" }).match(/v=(\S+)/)?.[1],
  };
  results.seconds = Math.round((Date.now() - t0) / 1000);
} finally {
  await emu.close();
  await redis.dispose();
  await rm(root, { recursive: true, force: true });
  await rm(libDir, { recursive: true, force: true });
}
if (asJson) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
process.exit(0);
