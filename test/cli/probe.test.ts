/**
 * The cached-token probe (src/cli/probe.ts, run by bin/hpauth.js before the full CLI) against the full CLI itself
 * (dist/cli.js), both as real processes on the same argv, environment and store state (the store directory is
 * restored between the two runs): the same stdout, stderr and exit code in every case, and the probe answering
 * exactly the cached cases it may answer — everything else must reach the full CLI (seen by the loader hook of
 * fixtures/record-modules.mjs, which logs dist/cli.js when it loads).
 */
import { execFile, spawn } from "node:child_process";
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileTokenStore } from "../../src/stores/file.js";
import { baseName } from "../../src/stores/file-names.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = join(root, "bin/hpauth.js");
const fullCli = join(root, "dist/cli.js");
const recorder = join(root, "test/cli/fixtures/record-modules.mjs");

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function spawnNode(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    child.stderr.on("data", (c) => {
      err += c;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

type Creds = Record<string, string> & { baseUrl: string };

// Each case runs two CLI processes (up to 18 cases a test): minutes on a loaded machine, and a test cut off by its
// timeout would go on restoring the store under the next one.
describe("the cached-token probe answers as the full CLI does", { timeout: 240_000 }, () => {
  let emu: { providers: Record<string, Creds>; close(): Promise<void> };
  let dir: string;
  let home: string;
  let gl: Creds;

  beforeAll(async () => {
    // dist/ is built once per run by test/global-setup.ts (never here: a rebuild in place pulls chunks away from
    // every other file's CLI processes).
    const { startEmulator } = await import("../../src/emulator/index.js");
    emu = (await startEmulator()) as never;
    gl = emu.providers.greenlake as Creds;
    dir = await mkdtemp(join(tmpdir(), "hpauth-probe-"));
    home = join(dir, "home");
    await mkdir(join(home, ".config", "hpauth"), { recursive: true });
    await writeFile(join(home, ".config", "hpauth", "config.toml"), toml(), { mode: 0o600 });
  }, 200_000);
  afterAll(async () => {
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const toml = (extra = "") =>
    `default_profile = "gl"\n${extra}\n[profiles.gl]\nprovider = "greenlake"\nbase_url = "${gl.baseUrl}"\nclient_id = "${gl.clientId}"\nclient_secret_env = "GL_SECRET"\n\n[profiles.other]\nprovider = "greenlake"\nregion = "eu1"\nclient_id = "o"\nclient_secret_env = "O"\n`;
  const store = () => join(home, ".local", "share", "hpauth", "tokens");
  const flags = () => [
    "--provider",
    "greenlake",
    "--base-url",
    gl.baseUrl,
    "--client-id",
    gl.clientId as string,
    "--client-secret-env",
    "GL_SECRET",
    "--store-dir",
    store(),
  ];
  const baseEnv = (): Record<string, string> => ({
    PATH: process.env.PATH ?? "",
    HOME: home,
    GL_SECRET: gl.clientSecret as string,
  });

  /** The token file of the `gl` credential (as FileTokenStore names it), and a store on that directory. */
  async function glRecord() {
    const s = new FileTokenStore({ dir: store(), onWarning: () => {} });
    const keys = (await s.list()).filter((k) => k.startsWith("greenlake-"));
    expect(keys).toHaveLength(1);
    const key = keys[0] as string;
    return { store: s, key, file: join(store(), `${baseName(key)}.json`) };
  }

  /**
   * Both paths on one case: the probe path (bin/hpauth.js, with the loader hook to see whether the full CLI ran),
   * then, with the store directory restored, the full CLI (dist/cli.js). Returns both and whether the probe answered.
   */
  async function both(args: string[], env: Record<string, string> = baseEnv()) {
    const snapshot = join(dir, `snap-${Math.random().toString(36).slice(2)}`);
    await cp(store(), snapshot, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    const mode = (await stat(store())).mode & 0o777;
    const log = join(dir, `modules-${Math.random().toString(36).slice(2)}.jsonl`);
    const probed = await spawnNode(["--import", recorder, bin, ...args], { ...env, HPAUTH_TEST_MODULE_LOG: log });
    const urls = await readFile(log, "utf8").then(
      (t) =>
        t
          .split("\n")
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as { url: string }).url),
      () => [] as string[],
    );
    await rm(store(), { recursive: true, force: true });
    await cp(snapshot, store(), { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    await chmod(store(), mode);
    const full = await spawnNode([fullCli, ...args], env);
    await rm(snapshot, { recursive: true, force: true });
    return { probed, full, answered: !urls.some((u) => u.endsWith("/dist/cli.js")) };
  }

  /** `expires_in` may tick over a second boundary between the two runs; everything else must be byte-identical. */
  const sameSecond = (a: string, b: string) => {
    const ai = /"expires_in":(\d+)/.exec(a);
    const bi = /"expires_in":(\d+)/.exec(b);
    if (ai && bi && Math.abs(Number(ai[1]) - Number(bi[1])) <= 1) return [a, b.replace(bi[0], ai[0])];
    return [a, b];
  };
  /** New tokens (a refresh, a login) differ between the two runs by nature: compared with them masked. */
  const masked = (s: string) =>
    s
      .replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, "<token>")
      .replace(/"expires_at":"[^"]+"/g, '"expires_at":"<t>"')
      .replace(/"expires_in":\d+/g, '"expires_in":<n>');

  async function expectSame(args: string[], expected: "answered" | "full", env?: Record<string, string>) {
    const r = await both(args, env);
    expect(r.answered, `${args.join(" ")}: ${r.probed.err}`).toBe(expected === "answered");
    const [a, b] = sameSecond(r.probed.out, r.full.out);
    expect({ code: r.probed.code, out: a, err: r.probed.err }).toEqual({ code: r.full.code, out: b, err: r.full.err });
    return r;
  }

  async function expectSameMasked(args: string[], env?: Record<string, string>) {
    const r = await both(args, env);
    expect(r.answered, args.join(" ")).toBe(false);
    expect({ code: r.probed.code, out: masked(r.probed.out), err: masked(r.probed.err) }).toEqual({
      code: r.full.code,
      out: masked(r.full.out),
      err: masked(r.full.err),
    });
    return r;
  }

  it("a cache miss goes to the full CLI (a login); then every cached form is answered, byte for byte", async () => {
    await mkdir(store(), { recursive: true, mode: 0o700 });
    const miss = await spawnNode([bin, "token", "--json", ...flags()], baseEnv());
    expect(miss.code, miss.err).toBe(0);
    expect(JSON.parse(miss.out).source).toBe("login");
    const cfgJson = join(dir, "config.json");
    await writeFile(
      cfgJson,
      JSON.stringify({
        profiles: {
          gl: {
            provider: "greenlake",
            base_url: gl.baseUrl,
            client_id: gl.clientId,
            client_secret_env: "GL_SECRET",
            client_secret_created_at: "2020-01-01", // a secret-age warning is `status`'s, never `token`'s
          },
        },
      }),
      { mode: 0o600 },
    );
    for (const args of [
      ["token", ...flags()],
      ["token", "-p", "gl"],
      ["token"],
      ["header", "-p", "gl"],
      ["token", "--json", "-p", "gl"],
      ["header", "--json", ...flags()],
      ["--profile=gl", "token", "--min-ttl", "60", "--timeout", "5", "--quiet", "--no-color"],
      ["token", "--config", cfgJson],
      ["header", "-c", cfgJson, "--json", "--store-dir", store()],
      ["token", "-p", "gl", "--format", "raw"],
      ["token", "-p", "gl", "--format", "json"],
    ]) {
      const r = await expectSame(args, "answered");
      expect(r.probed.code).toBe(0);
      expect(r.probed.err).toBe("");
    }
    await expectSame(["token"], "answered", { ...baseEnv(), HPAUTH_PROFILE: "gl" });
    await expectSame(["token", "--client-secret-env", "GL_SECRET"], "answered", {
      ...baseEnv(),
      HPAUTH_PROFILE: "gl",
    });
  });

  it("the package ships what the CommonJS bin needs: bin/package.json (type commonjs) and dist/probe.cjs", async () => {
    const { stdout } = await promisify(execFile)("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
      cwd: root,
      timeout: 60_000,
    });
    const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]?.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(["bin/hpauth.js", "bin/package.json", "dist/probe.cjs"]));
    expect(JSON.parse(await readFile(join(root, "bin/package.json"), "utf8"))).toEqual({ type: "commonjs" });
  });

  it("the probe's V8 code cache: private, and never a reason for a different answer", async () => {
    const cacheDir = join(home, ".cache", "hpauth");
    const [name] = (await readdir(cacheDir)).filter((n) => n.endsWith(".v8"));
    expect(name).toMatch(new RegExp(`^probe-${process.version}-${process.arch}-[0-9a-f]{16}-\\d+-\\d+\\.v8$`));
    const cache = join(cacheDir, name as string);
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
    expect((await stat(cache)).mode & 0o777).toBe(0o600);
    // Damaged: V8 refuses it, the probe compiles from source, answers the same, and writes a good one.
    await writeFile(cache, Buffer.alloc(4096, 7));
    await expectSame(["token", "-p", "gl"], "answered");
    expect((await readFile(cache)).equals(Buffer.alloc(4096, 7))).toBe(false);
    // A directory others may write: the cache there is neither read nor replaced.
    await writeFile(cache, "planted");
    await chmod(cacheDir, 0o777);
    await expectSame(["token", "-p", "gl"], "answered");
    expect(await readFile(cache, "utf8")).toBe("planted");
    await chmod(cacheDir, 0o700);
    await rm(cache);
    await expectSame(["token", "-p", "gl"], "answered");
    expect((await readdir(cacheDir)).filter((n) => n.endsWith(".v8"))).toEqual([name]);
  });

  it("errors and unusual forms reach the full CLI unchanged", async () => {
    for (const args of [
      ["token", "-p", "nope"],
      ["token", "--min-ttl", "soon"],
      ["token", "--bogus"],
      ["token", "extra"],
      ["token", "--help"],
      ["--version"],
      ["status", "-p", "gl"],
      ["token", "-p", "gl", "--store-dir"],
      ["token", "--provider", "greenlake"],
      ["token", "-p", "gl", "--base-url", "http://example.com"],
      ["token", "--config", join(dir, "missing.toml")],
      // The other output formats are the full CLI's (token-formats.ts), even for a cached token.
      ["token", "-p", "gl", "--format", "header"],
      ["token", "-p", "gl", "--format", "az"],
      ["token", "-p", "gl", "--format", "exec-credential"],
      ["token", "-p", "gl", "--format", "env", "--env", "GL_TOKEN"],
      ["token", "-p", "gl", "--format", "bazel"],
      ["token", "-p", "gl", "--format", "yaml"],
    ]) {
      await expectSame(args, "full");
    }
    // Several profiles, none selected.
    await writeFile(join(dir, "two.toml"), toml().replace('default_profile = "gl"\n', ""), { mode: 0o600 });
    await expectSame(["token", "-c", join(dir, "two.toml")], "full");
    // A malformed config file.
    await writeFile(join(dir, "bad.toml"), '[profiles.gl\nprovider = "greenlake"\n', { mode: 0o600 });
    await expectSame(["token", "-c", join(dir, "bad.toml")], "full");
    await writeFile(join(dir, "bad.json"), '{"profiles": {', { mode: 0o600 });
    await expectSame(["header", "--json", "-c", join(dir, "bad.json")], "full");
  });

  it("anything that prints a warning or an event reaches the full CLI", async () => {
    await expectSame(["token", "-p", "gl", "--verbose"], "full");
    // An unknown key in the config file.
    await writeFile(join(dir, "typo.toml"), toml('colour = "blue"'), { mode: 0o600 });
    await expectSame(["token", "-c", join(dir, "typo.toml")], "full");
    // A secret as a flag (not part of the credential's key: the cached token is still served, with the warning).
    // Not the real secret: it is not needed for a cached token, and a secret has no place in a child's argv.
    const adHoc = flags().filter((f) => f !== "--client-secret-env" && f !== "GL_SECRET");
    await expectSame(["token", ...adHoc, "--client-secret", "not-the-secret"], "full");
    // An inline secret in a file others may read.
    const open = join(dir, "open.toml");
    await writeFile(open, toml().replace('client_secret_env = "GL_SECRET"', 'client_secret = "inline-not-the-secret"'));
    await chmod(open, 0o644);
    await expectSame(["token", "-c", open], "full");
    await chmod(open, 0o600);
    await expectSame(["token", "-c", open], "answered");
    // A --min-ttl no token can satisfy: capped, with a warning.
    await expectSame(["token", "-p", "gl", "--min-ttl", "999999"], "full");
    // A YAML config: not parsed by the probe.
    const yaml = join(dir, "c.yaml");
    await writeFile(
      yaml,
      `profiles:\n  gl:\n    provider: greenlake\n    base_url: ${gl.baseUrl}\n    client_id: ${gl.clientId}\n    client_secret_env: GL_SECRET\n`,
      { mode: 0o600 },
    );
    await expectSame(["token", "-c", yaml], "full");
    // No HOME: os.homedir() is not second-guessed.
    const { HOME: _home, ...noHome } = baseEnv();
    await expectSame(["token", ...flags()], "full", { ...noHome, XDG_CONFIG_HOME: join(home, ".config") });
  });

  it("the token store's state: loose modes, locks, temp files, markers, damaged or foreign records", async () => {
    const { store: s, key, file } = await glRecord();
    // Loose permissions: the store tightens them and warns (restored for the second run).
    await chmod(file, 0o644);
    await expectSame(["token", "-p", "gl"], "full");
    await chmod(file, 0o600);
    await chmod(store(), 0o755);
    await expectSame(["token", "-p", "gl"], "full");
    await chmod(store(), 0o700);
    // Another process holds the credential's lock (refreshing it): the full CLI serves the stored token meanwhile.
    const lock = join(store(), `${baseName(key)}.lock`);
    await mkdir(lock);
    await expectSame(["token", "-p", "gl"], "full");
    await rm(lock, { recursive: true });
    // A temp file of an interrupted write (a writer that died: its name says pid 1 of another host).
    const temp = join(store(), `.${baseName(key)}.json.000000000000-1-x-0000000000000000.tmp`);
    await writeFile(temp, await readFile(file, "utf8"), { mode: 0o600 });
    await expectSame(["token", "-p", "gl"], "full");
    await rm(temp, { force: true });
    // A lock leftover (a takeover's tombstone).
    await mkdir(join(store(), `${baseName(key)}.lock.dead-abc123`));
    await expectSame(["token", "-p", "gl"], "full");
    await rm(join(store(), `${baseName(key)}.lock.dead-abc123`), { recursive: true });
    await expectSame(["token", "-p", "gl"], "answered");

    const good = await readFile(file, "utf8");
    const rec = (await s.get(key)) as NonNullable<Awaited<ReturnType<typeof s.get>>>;
    // A refresh whose answer was lost (the marker): the engine serves the token; the probe leaves it alone.
    await s.set(key, { ...rec, refreshPendingSince: Date.now() - 5000 });
    await expectSame(["token", "-p", "gl"], "full");
    // A salvageable record (a damaged bookkeeping field): a warning and a kept copy.
    const doc = JSON.parse(good);
    doc.record.lastLoginAt = "yesterday";
    await writeFile(file, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    await expectSame(["token", "-p", "gl"], "full");
    // Not JSON; a newer format; another key's record.
    await writeFile(file, good.slice(0, 40), { mode: 0o600 });
    await expectSame(["token", "-p", "gl", "--json"], "full");
    await writeFile(file, good.replace('"v": 1', '"v": 2'), { mode: 0o600 });
    await expectSame(["token", "-p", "gl"], "full");
    await writeFile(file, good.replace(`"key": "${key}"`, '"key": "greenlake-someone-else"'), { mode: 0o600 });
    await expectSame(["token", "-p", "gl"], "full");
    await writeFile(file, good, { mode: 0o600 });
    await expectSame(["token", "-p", "gl"], "answered");
    // Non-file stores: the full CLI's (memory: a new grant; redis: its own answer, here a timeout).
    await expectSameMasked(["token", "-p", "gl", "--store", "memory"]);
    await expectSame(["token", "-p", "gl", "--timeout", "1"], "full", {
      ...baseEnv(),
      HPAUTH_STORE: "redis://127.0.0.1:1",
    });
    expect(await readdir(store())).toContain(`${baseName(key)}.json`);
  });

  it("expired, near-expiry and forced: the full CLI refreshes", async () => {
    const { store: s, key } = await glRecord();
    const rec = (await s.get(key)) as NonNullable<Awaited<ReturnType<typeof s.get>>>;
    await expectSameMasked(["token", "-p", "gl", "--force-refresh"]);
    const now = Date.now();
    // Inside the refresh margin (60 s): both refresh.
    await s.set(key, { ...rec, obtainedAt: now - 3_550_000, expiresAt: now + 50_000, updatedAt: now });
    await expectSameMasked(["token", "-p", "gl", "--json"]);
    // Inside the jitter's reach (60 s + up to 10 % of the lifetime, at most 60 s more): whether the engine refreshes
    // is its random draw, so the two runs may differ; the probe never answers there.
    await s.set(key, { ...rec, obtainedAt: now - 3_500_000, expiresAt: now + 100_000, updatedAt: now });
    const jitter = await both(["token", "-p", "gl", "--json"]);
    expect(jitter.answered).toBe(false);
    expect([jitter.probed.code, jitter.full.code]).toEqual([0, 0]);
    await s.set(key, { ...rec, expiresAt: now - 1000, updatedAt: now });
    await expectSameMasked(["header", "-p", "gl"]);
    await s.set(key, { ...rec, obtainedAt: now, expiresAt: now + 3_600_000, updatedAt: now });
    // --min-ttl beyond what is left (but below the lifetime): a new token, no warning.
    await s.set(key, { ...rec, obtainedAt: now - 1_800_000, expiresAt: now + 1_800_000, updatedAt: now });
    await expectSameMasked(["token", "-p", "gl", "--min-ttl", "2000"]);
  });
});
