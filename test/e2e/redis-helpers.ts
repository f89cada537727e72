/**
 * Plumbing for the fleet proofs: the engine + RedisTokenStore bundled for child processes, and a runner that each
 * "host" starts with its own HOME and HOSTNAME. Secrets reach children through the environment, never argv. The
 * runner can stop itself at a named moment (E2E_PAUSE_AT) by printing `paused <moment>` and waiting 400 ms, so
 * the test can SIGSTOP it exactly there: `read` (first read under the credential's lock, before any request) or
 * `commit` (the write of a token the server already issued; not the refresh-in-flight marker written before the request).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { type Child, startChild } from "../stores/helpers.js";

const BANNER =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

export async function bundleRedisEngine(outDir: string): Promise<string> {
  const entry = join(outDir, "redis-engine-entry.ts");
  const src = (p: string) => JSON.stringify(fileURLToPath(new URL(`../../src/${p}`, import.meta.url)));
  await writeFile(
    entry,
    `export { createTokenManager } from ${src("engine/manager.ts")};\nexport { RedisTokenStore } from ${src("stores/redis.ts")};\n`,
  );
  const outfile = join(outDir, "redis-engine.mjs");
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "warning",
    banner: { js: BANNER },
  });
  return pathToFileURL(outfile).href;
}

/**
 * Env: E2E_PROFILE (JSON), E2E_REDIS_URL, E2E_PREFIX, E2E_LOCK_TTL_MS, E2E_CLOCK_OFFSET_MS, E2E_PAUSE_AT,
 * E2E_MODE (`race`: print "ready", wait for SIGUSR2; else at once). Prints one JSON line: the result with a hash of
 * the token (never the token), or the error code.
 */
export async function writeRedisRunner(dir: string, engineUrl: string): Promise<string> {
  const path = join(dir, "redis-runner.mjs");
  await writeFile(
    path,
    `import { createHash } from "node:crypto";
import { createTokenManager, RedisTokenStore } from ${JSON.stringify(engineUrl)};
const env = process.env;
const offset = Number(env.E2E_CLOCK_OFFSET_MS ?? 0);
const store = new RedisTokenStore({
  url: env.E2E_REDIS_URL,
  prefix: env.E2E_PREFIX,
  lockTtlMs: Number(env.E2E_LOCK_TTL_MS ?? 10000),
  lockTimeoutMs: 120000,
  commitRetryMs: Number(env.E2E_COMMIT_RETRY_MS ?? 20000),
  onWarning: (m) => process.stderr.write("warning: " + m + "\\n"),
});
const profile = JSON.parse(env.E2E_PROFILE);
let pauses = env.E2E_PAUSE_AT ? 1 : 0;
const pause = async (at) => {
  if (env.E2E_PAUSE_AT !== at || pauses === 0) return;
  pauses--;
  console.log("paused " + at);
  await new Promise((r) => setTimeout(r, 400));
};
let locked = 0;
// Instrumentation only: the real store underneath, with a named moment to stop at.
const instrumented = {
  kind: store.kind,
  location: store.location,
  get: async (k) => {
    const r = await store.get(k);
    if (locked > 0 && !k.includes("budget")) await pause("read");
    return r;
  },
  set: async (k, rec, o) => {
    if (locked > 0 && rec.accessToken && rec.refreshPendingSince === undefined && !k.includes("budget")) await pause("commit");
    return store.set(k, rec, o);
  },
  delete: (k) => store.delete(k),
  list: () => store.list(),
  withLock: (k, fn, o) => store.withLock(k, async () => { locked++; try { return await fn(); } finally { locked--; } }, o),
  close: () => store.close(),
};
const m = createTokenManager({
  profile,
  store: instrumented,
  runtime: { now: () => Date.now() + offset },
  onEvent: (e) => process.stderr.write(JSON.stringify(e) + "\\n"),
});
const hash = (t) => createHash("sha256").update(t).digest("hex").slice(0, 24);
try {
  if (env.E2E_MODE === "race") {
    const keepAlive = setInterval(() => {}, 60_000);
    const go = new Promise((resolve) => process.once("SIGUSR2", resolve));
    console.log("ready");
    await go;
    clearInterval(keepAlive);
  }
  const t = await m.getToken({ forceRefresh: env.E2E_FORCE === "1" });
  console.log(JSON.stringify({ ok: true, source: t.source, tokenHash: hash(t.accessToken), host: env.HOSTNAME }));
  await store.close();
  process.exit(0);
} catch (e) {
  console.log(JSON.stringify({ ok: false, code: e.code ?? "THROWN", message: String(e.message), hint: e.hint }));
  await store.close().catch(() => {});
  process.exit(typeof e.exitCode === "number" ? e.exitCode : 1);
}
`,
  );
  return path;
}

export interface FleetResult {
  ok: boolean;
  source?: string;
  tokenHash?: string;
  host?: string;
  code?: string;
  message?: string;
  hint?: string;
}

export function fleetRunner(
  script: string,
  opts: {
    host: number;
    root: string;
    profile: unknown;
    secrets: Record<string, string>;
    redisUrl: string;
    prefix: string;
    mode: "race" | "once";
    lockTtlMs?: number;
    clockOffsetMs?: number;
    pauseAt?: "read" | "commit";
    force?: boolean;
    commitRetryMs?: number;
  },
): Child {
  const home = join(opts.root, `host${opts.host}`);
  return startChild(script, [], {
    ...opts.secrets,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_DATA_HOME: join(home, ".local", "share"),
    HOSTNAME: `host${opts.host}`,
    E2E_PROFILE: JSON.stringify(opts.profile),
    E2E_REDIS_URL: opts.redisUrl,
    E2E_PREFIX: opts.prefix,
    E2E_MODE: opts.mode,
    E2E_LOCK_TTL_MS: String(opts.lockTtlMs ?? 10_000),
    E2E_CLOCK_OFFSET_MS: String(opts.clockOffsetMs ?? 0),
    E2E_PAUSE_AT: opts.pauseAt ?? "",
    E2E_FORCE: opts.force ? "1" : "0",
    E2E_COMMIT_RETRY_MS: String(opts.commitRetryMs ?? 20_000),
  });
}

export function fleetResult(child: Child): FleetResult {
  const line = [...child.lines].reverse().find((l) => l.startsWith("{"));
  if (!line) throw new Error(`runner printed no result; stderr: ${child.stderr().slice(-2000)}`);
  return JSON.parse(line) as FleetResult;
}
