/**
 * Plumbing for the end-to-end proofs: the engine + file store bundled for child processes (Node 20 runs no
 * TypeScript), a child runner driven by environment variables (secrets never in argv), seeding a credential with a
 * real login, and reading the emulator's counters.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import pkg from "../../package.json" with { type: "json" };
import type { Emulator } from "../../src/emulator/index.js";
import { createTokenManager } from "../../src/engine/manager.js";
import type { NamedProfile } from "../../src/engine/types.js";
import { FileTokenStore } from "../../src/stores/file.js";
import type { TokenRecord } from "../../src/stores/types.js";
import { type Child, startChild } from "../stores/helpers.js";

export { type Child, cleanup, startChild, tempDir } from "../stores/helpers.js";

const BANNER =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/** Bundles the engine and the file store into `<outDir>/engine.mjs`; returns its file URL. */
export async function bundleEngine(outDir: string): Promise<string> {
  const entry = join(outDir, "engine-entry.ts");
  const src = (p: string) => JSON.stringify(fileURLToPath(new URL(`../../src/${p}`, import.meta.url)));
  await writeFile(
    entry,
    `export { createTokenManager } from ${src("engine/manager.ts")};\nexport { FileTokenStore } from ${src("stores/file.ts")};\n`,
  );
  const outfile = join(outDir, "engine.mjs");
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
 * Bundles the CLI as scripts/build.mjs does (src/cli/entry.ts → dist/cli.js + dist/cli-chunks/, code-split, the
 * package's dependencies external: reached through a link to this checkout's node_modules) plus a
 * copy of the bin/hpauth.js shim, into a private directory: another engineer rebuilding dist/ mid-run cannot pull
 * it away, and the test runs the current source. Returns the path of the private `bin/hpauth.js`.
 */
export async function bundleCli(outDir: string): Promise<string> {
  await build({
    entryPoints: { cli: fileURLToPath(new URL("../../src/cli/entry.ts", import.meta.url)) },
    outdir: join(outDir, "dist"),
    chunkNames: "cli-chunks/[name]-[hash]",
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)],
    logLevel: "warning",
    banner: { js: BANNER },
  });
  await symlink(fileURLToPath(new URL("../../node_modules", import.meta.url)), join(outDir, "node_modules"), "dir");
  await mkdir(join(outDir, "bin"), { recursive: true });
  const bin = join(outDir, "bin", "hpauth.js");
  await writeFile(bin, await readFile(new URL("../../bin/hpauth.js", import.meta.url), "utf8"));
  // The shim is CommonJS (bin/package.json says so; the package.json above it says ESM, for the bundle). No
  // dist/probe.cjs here: the shim then runs the full CLI for every command, the path these tests are about.
  await writeFile(
    join(outDir, "bin", "package.json"),
    await readFile(new URL("../../bin/package.json", import.meta.url), "utf8"),
  );
  // The bundle is ESM; without a package.json saying so above it, Node would take it for CommonJS.
  await writeFile(join(outDir, "package.json"), '{"type":"module"}\n');
  return bin;
}

/**
 * The child runner. Environment: E2E_PROFILE (JSON, secrets by env-var name only), E2E_STORE_DIR, E2E_MODE
 * (`race`: print "ready", wait for SIGUSR2, one getToken; `once`: one getToken; `loop`: forced refreshes
 * forever, a line after each), E2E_FORCE=1 (forceRefresh in `once`), E2E_CLOCK_OFFSET_MS (the emulator's clock
 * offset, so child and emulator agree on time). Prints one JSON line per token with a hash of it, never the token.
 */
export async function writeRunner(dir: string, engineUrl: string): Promise<string> {
  const path = join(dir, "runner.mjs");
  await writeFile(
    path,
    `import { createHash } from "node:crypto";
import { createTokenManager, FileTokenStore } from ${JSON.stringify(engineUrl)};
const env = process.env;
const offset = Number(env.E2E_CLOCK_OFFSET_MS ?? 0);
const store = new FileTokenStore({ dir: env.E2E_STORE_DIR, lockStaleMs: 2000, lockTimeoutMs: 60_000 });
const m = createTokenManager({
  profile: JSON.parse(env.E2E_PROFILE),
  store,
  runtime: { now: () => Date.now() + offset },
  onEvent: (e) => process.stderr.write(JSON.stringify(e) + "\\n"),
});
const hash = (t) => createHash("sha256").update(t).digest("hex").slice(0, 24);
const report = (t, n) =>
  console.log(JSON.stringify({ ok: true, n, source: t.source, tokenHash: hash(t.accessToken), expiresAt: t.expiresAt.getTime() }));
try {
  if (env.E2E_MODE === "race") {
    // Released by SIGUSR2 (the stores' child helper gives no stdin); the handler is in place before "ready".
    // A signal listener does not keep the event loop alive; the timer does, until the signal comes.
    const keepAlive = setInterval(() => {}, 60_000);
    const go = new Promise((resolve) => process.once("SIGUSR2", resolve));
    console.log("ready");
    await go;
    clearInterval(keepAlive);
    report(await m.getToken(), 0);
  } else if (env.E2E_MODE === "loop") {
    console.log("ready");
    for (let n = 1; ; n++) report(await m.getToken({ forceRefresh: true }), n);
  } else {
    report(await m.getToken({ forceRefresh: env.E2E_FORCE === "1" }), 0);
  }
  process.exit(0);
} catch (e) {
  console.log(JSON.stringify({ ok: false, code: e.code ?? "THROWN", message: String(e.message), hint: e.hint, retryAt: e.retryAt?.toISOString?.() }));
  process.exit(typeof e.exitCode === "number" ? e.exitCode : 1);
}
`,
  );
  return path;
}

export interface RunnerResult {
  ok: boolean;
  n?: number;
  source?: string;
  tokenHash?: string;
  expiresAt?: number;
  code?: string;
  message?: string;
  hint?: string;
  retryAt?: string;
}

export function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex").slice(0, 24);
}

/** Environment for a runner child: the profile (secrets referenced by env var name) and the secrets themselves. */
export function arubaEnv(emu: Emulator): { profile: NamedProfile; secrets: Record<string, string> } {
  const a = emu.providers["aruba-central"];
  return {
    profile: {
      name: "aruba-e2e",
      provider: "aruba-central",
      baseUrl: a.baseUrl,
      clientId: a.clientId ?? "",
      clientSecretEnv: "E2E_ARUBA_SECRET",
      username: a.username ?? "",
      passwordEnv: "E2E_ARUBA_PASSWORD",
      customerId: a.customerId ?? "",
    },
    secrets: { E2E_ARUBA_SECRET: a.clientSecret ?? "", E2E_ARUBA_PASSWORD: a.password ?? "" },
  };
}

export function runner(
  script: string,
  opts: {
    profile: NamedProfile;
    secrets: Record<string, string>;
    storeDir: string;
    mode: "race" | "once" | "loop";
    force?: boolean;
    clockOffsetMs?: number;
  },
): Child {
  const child = startChild(script, [], {
    ...opts.secrets,
    E2E_PROFILE: JSON.stringify(opts.profile),
    E2E_STORE_DIR: opts.storeDir,
    E2E_MODE: opts.mode,
    E2E_FORCE: opts.force ? "1" : "0",
    E2E_CLOCK_OFFSET_MS: String(opts.clockOffsetMs ?? 0),
  });
  return child;
}

/** The last JSON line a runner printed. */
export function lastResult(child: Child): RunnerResult {
  const line = [...child.lines].reverse().find((l) => l.startsWith("{"));
  if (!line) throw new Error(`runner printed no result; stderr: ${child.stderr().slice(-2000)}`);
  return JSON.parse(line) as RunnerResult;
}

/**
 * One real Aruba login (three steps against the emulator) persisted to the file store, with the engine's clock at
 * `now`; returns the stored record.
 */
export async function seedAruba(
  emu: Emulator,
  storeDir: string,
  now: () => number = Date.now,
): Promise<{ record: TokenRecord; key: string }> {
  const { profile, secrets } = arubaEnv(emu);
  const store = new FileTokenStore({ dir: storeDir });
  const m = createTokenManager({ profile, store, runtime: { now, env: secrets } });
  const t = await m.login();
  if (t.source !== "login") throw new Error(`seed: expected a login, got ${t.source}`);
  const record = await store.get(m.key);
  if (!record?.refreshToken) throw new Error("seed: no refresh token stored");
  return { record, key: m.key };
}

export async function readRecord(storeDir: string, key: string): Promise<TokenRecord | undefined> {
  return new FileTokenStore({ dir: storeDir }).get(key);
}

export async function arubaCounters(emu: Emulator) {
  return (await emu.admin.counters())["aruba-central"];
}
