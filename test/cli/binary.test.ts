/**
 * The built CLI as real child processes: `npm run build` once, then `node bin/hpauth.js …`. Secrets reach the
 * children through their environment, never argv.
 */
import { spawn } from "node:child_process";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, arubaFlags } from "./helpers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = join(root, "bin/hpauth.js");

interface Result {
  code: number | null;
  out: string;
  err: string;
  ms: number;
}

function hpauth(
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
  nodeArgs: string[] = [],
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [...nodeArgs, bin, ...args], {
      cwd: root,
      // A clean environment: no HPAUTH_* or config leaking in from the developer's shell.
      env: {
        PATH: process.env.PATH ?? "",
        HOME: join(tmpdir(), "hpauth-no-home"),
        XDG_CONFIG_HOME: join(tmpdir(), "hpauth-no-xdg"),
        ...env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    child.stderr.on("data", (c) => {
      err += c;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err, ms: Date.now() - t0 }));
    child.stdin.end(stdin ?? "");
  });
}

type Creds = Record<string, string> & { baseUrl: string };

describe("the built binary", () => {
  let emu: { providers: Record<string, Creds>; adminUrl: string; close(): Promise<void> };
  let dir: string;

  beforeAll(async () => {
    // dist/ is built once per run by test/global-setup.ts (a rebuild here would pull its chunks away from every
    // other file's CLI processes).
    const { startEmulator } = await import("../../src/emulator/index.js");
    emu = (await startEmulator()) as never;
    dir = await mkdtemp(join(tmpdir(), "hpauth-bin-"));
  }, 200_000);
  afterAll(async () => {
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const secrets = () =>
    Object.values(emu.providers).flatMap((p) => [p.clientSecret, p.password].filter((s): s is string => !!s));
  const glArgs = (store: string) => {
    const p = emu.providers.greenlake!;
    return [
      "--provider",
      "greenlake",
      "--base-url",
      p.baseUrl,
      "--client-id",
      p.clientId!,
      "--client-secret-env",
      "GL_SECRET",
      "--store-dir",
      store,
    ];
  };

  it("token: only the token on stdout; nothing secret on stderr", async () => {
    const r = await hpauth(["token", ...glArgs(join(dir, "s1"))], {
      GL_SECRET: emu.providers.greenlake!.clientSecret!,
    });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^\S+\n$/);
    for (const s of secrets()) expect(r.out + r.err).not.toContain(s);
    expect(r.err).not.toContain(r.out.trim());
  });

  it("token --json and header --json shapes", async () => {
    const env = { GL_SECRET: emu.providers.greenlake!.clientSecret! };
    const t = await hpauth(["token", "--json", ...glArgs(join(dir, "s2"))], env);
    expect(t.code).toBe(0);
    expect(JSON.parse(t.out)).toMatchObject({ token_type: "Bearer", provider: "greenlake", source: "login" });
    const h = await hpauth(["header", "--json", ...glArgs(join(dir, "s2"))], env);
    expect(JSON.parse(h.out)).toMatchObject({ header: "Authorization", source: "cache" });
  });

  describe("what the cached `hpauth token` path loads (what makes it fast; speed itself is bench/'s)", () => {
    const recorder = join(root, "test/cli/fixtures/record-modules.mjs");
    /** Runs the built CLI with a loader hook that records every ES module it loads: their packages and sources. */
    async function loaded(args: string[], env: Record<string, string>) {
      const log = join(dir, `modules-${Math.random().toString(36).slice(2)}.jsonl`);
      const r = await hpauth(args, { ...env, HPAUTH_TEST_MODULE_LOG: log }, undefined, ["--import", recorder]);
      const lines = (await readFile(log, "utf8").catch(() => "")).trim().split("\n").filter(Boolean);
      const mods = lines.map((l) => JSON.parse(l) as { url: string; packages: string[]; sources: string[] });
      return {
        ...r,
        urls: mods.map((m) => m.url),
        packages: new Set(mods.flatMap((m) => m.packages)),
        sources: new Set(mods.flatMap((m) => m.sources)),
      };
    }
    const env = () => ({ GL_SECRET: emu.providers.greenlake!.clientSecret! });

    it("a cached token is answered by the probe: the full CLI's ES modules are not loaded at all", async () => {
      const store = join(dir, "s3-probe");
      const first = await loaded(["token", ...glArgs(store)], env());
      expect(first.code, first.err).toBe(0);
      expect(first.urls.some((u) => u.endsWith("/dist/cli.js"))).toBe(true);
      for (const args of [["token"], ["header"], ["token", "--json"]]) {
        const cached = await loaded([...args, ...glArgs(store)], env());
        expect(cached.code, cached.err).toBe(0);
        expect(cached.urls.filter((u) => u.includes("/dist/"))).toEqual([]);
      }
    });

    it("the full CLI's cached path (HPAUTH_PROBE=off, or whatever the probe declines) loads neither commander, nor a config parser, nor the OAuth or JWT libraries", async () => {
      const store = join(dir, "s3");
      // The first run logs in (a lock is taken: the store's own src/stores/filelock.ts, no lock package).
      const first = await loaded(["token", ...glArgs(store)], env());
      expect(first.code, first.err).toBe(0);
      const cached = await loaded(["token", ...glArgs(store)], { ...env(), HPAUTH_PROBE: "off" });
      expect(cached.code, cached.err).toBe(0);
      expect(cached.out.trim()).toBe(first.out.trim());
      expect(cached.sources).toContain("src/stores/file.ts");
      for (const pkg of ["commander", "smol-toml", "yaml", "oauth4webapi", "jose", "undici"])
        expect([...cached.packages], pkg).not.toContain(pkg);
      for (const src of ["src/cli/argv.ts"]) expect(cached.sources).toContain(src);
      for (const src of ["src/engine/login/authorizer.ts", "src/emulator/index.ts", "src/cli/commands/login.ts"])
        expect([...cached.sources], src).not.toContain(src);
      expect(cached.urls).not.toContain("node:child_process");
      // `header` takes the same path.
      const header = await loaded(["header", ...glArgs(store)], { ...env(), HPAUTH_PROBE: "off" });
      expect(header.code).toBe(0);
      expect(header.urls.some((u) => u.endsWith("/dist/cli.js"))).toBe(true);
      expect([...header.packages]).not.toContain("commander");
    });

    it("the recorder sees them when they are used: commander for other commands, smol-toml for a TOML config", async () => {
      const status = await loaded(["status", ...glArgs(join(dir, "s3"))], env());
      expect(status.code, status.err).toBe(0);
      expect(status.packages).toContain("commander");
      const cfg = join(dir, "cached.toml");
      const p = emu.providers.greenlake!;
      await writeFile(
        cfg,
        `[profiles.gl]\nprovider = "greenlake"\nbase_url = "${p.baseUrl}"\nclient_id = "${p.clientId}"\nclient_secret_env = "GL_SECRET"\n`,
        { mode: 0o600 },
      );
      const toml = await loaded(["token", "--config", cfg, "--store-dir", join(dir, "s3-toml")], {
        ...env(),
        HPAUTH_PROBE: "off",
      });
      expect(toml.code, toml.err).toBe(0);
      expect(toml.packages).toContain("smol-toml");
      expect([...toml.packages]).not.toContain("yaml");
    });
  });

  it("config files in TOML, YAML (.yaml, .yml) and JSON work in the built CLI", async () => {
    const p = emu.providers.greenlake!;
    const env = { GL_SECRET: p.clientSecret! };
    const files: Record<string, string> = {
      "cfg.toml": `default_profile = "gl"\n[profiles.gl]\nprovider = "greenlake"\nbase_url = "${p.baseUrl}"\nclient_id = "${p.clientId}"\nclient_secret_env = "GL_SECRET"\n`,
      "cfg.yaml": `default_profile: gl\nprofiles:\n  gl:\n    provider: greenlake\n    base_url: "${p.baseUrl}"\n    client_id: "${p.clientId}"\n    client_secret_env: GL_SECRET\n`,
      "cfg.yml": `profiles:\n  gl:\n    provider: greenlake\n    base_url: "${p.baseUrl}"\n    clientId: "${p.clientId}"\n    clientSecretEnv: GL_SECRET\n`,
      "cfg.json": JSON.stringify({
        default_profile: "gl",
        profiles: {
          gl: { provider: "greenlake", base_url: p.baseUrl, client_id: p.clientId, client_secret_env: "GL_SECRET" },
        },
      }),
    };
    for (const [name, text] of Object.entries(files)) {
      const cfg = join(dir, name);
      await writeFile(cfg, text, { mode: 0o600 });
      const list = await hpauth(["profiles", "list", "--json", "--config", cfg]);
      expect(list.code, `${name}: ${list.err}`).toBe(0);
      expect(JSON.parse(list.out).profiles, name).toMatchObject([{ name: "gl", provider: "greenlake" }]);
      const t = await hpauth(["token", "--json", "--config", cfg, "--store-dir", join(dir, `cfg-${name}`)], env);
      expect(t.code, `${name}: ${t.err}`).toBe(0);
      expect(JSON.parse(t.out), name).toMatchObject({ profile: "gl", provider: "greenlake", source: "login" });
    }
  });

  it("a config file holding an inline secret and open to others: a warning naming the file and the fix", async () => {
    const p = emu.providers.greenlake!;
    const cfg = join(dir, "inline.toml");
    const profile = `[profiles.gl]\nprovider = "greenlake"\nbase_url = "${p.baseUrl}"\nclient_id = "${p.clientId}"\n`;
    await writeFile(cfg, `${profile}client_secret = "${p.clientSecret}"\n`);
    const store = ["--store-dir", join(dir, "s-inline")];
    for (const [mode, who] of [
      [0o644, "everyone on this machine"],
      [0o640, "its group"],
    ] as const) {
      await chmod(cfg, mode);
      const r = await hpauth(["token", "--config", cfg, ...store]);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toContain(
        `Warning: ${cfg} holds a secret (profiles.gl.client_secret) and is open to ${who} (mode 0${mode.toString(8)}). Run: chmod 600 ${cfg}`,
      );
      expect(r.err).not.toContain(p.clientSecret!);
    }
    await chmod(cfg, 0o600);
    expect((await hpauth(["token", "--config", cfg, ...store])).err).toBe("");
    // A reference to a secret is not a secret.
    await writeFile(cfg, `${profile}client_secret_env = "GL_SECRET"\n`);
    await chmod(cfg, 0o644);
    expect((await hpauth(["token", "--config", cfg, ...store], { GL_SECRET: p.clientSecret! })).err).toBe("");
  });

  it("bad config → 2, naming the file; --json puts the error shape on stdout", async () => {
    const r = await hpauth(["token", "--config", join(dir, "nope.toml")]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/nope\.toml/);
    expect(r.out).toBe("");
    const cfg = join(dir, "bad.toml");
    await writeFile(cfg, '[profiles.a]\nprovider = "greenlake"\nbase_url = "http://example.com"\n');
    const j = await hpauth(["token", "--json", "--config", cfg]);
    expect(j.code).toBe(2);
    const e = JSON.parse(j.out).error;
    expect(e).toMatchObject({ code: "CONFIG_INVALID", category: "usage", profile: "a", provider: "greenlake" });
    // The engine's validateProfile names each bad field.
    expect(e.message).toMatch(/base_url: must use https/);
    expect(e.message).toMatch(/client_id: required/);
    expect(Object.keys(e).sort()).toEqual(expect.arrayContaining(["code", "category", "message"]));
  });

  it("bad credentials → 3, nothing secret echoed; --json shape", async () => {
    const r = await hpauth(["token", ...glArgs(join(dir, "s4"))], { GL_SECRET: "wrong-secret-value" });
    expect(r.code).toBe(3);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/^hpauth: /);
    expect(r.err).not.toContain("wrong-secret-value");
    const j = await hpauth(["token", "--json", ...glArgs(join(dir, "s4"))], { GL_SECRET: "wrong-secret-value" });
    expect(j.code).toBe(3);
    expect(JSON.parse(j.out).error).toMatchObject({ code: "INVALID_CLIENT", category: "auth", status: 401 });
    expect(j.out + j.err).not.toContain("wrong-secret-value");
  });

  it("unreachable → 5, and --json puts the error on stdout", async () => {
    const r = await hpauth(
      [
        "token",
        "--json",
        "--provider",
        "greenlake",
        "--base-url",
        "http://127.0.0.1:9",
        "--client-id",
        "x",
        "--client-secret-env",
        "S",
        "--store",
        "memory",
      ],
      { S: "x" },
    );
    expect(r.code).toBe(5);
    expect(JSON.parse(r.out).error.category).toBe("network");
  });

  it("a token-store failure (a damaged record file) → 5, naming the file; --json category store", async () => {
    const env = { GL_SECRET: emu.providers.greenlake!.clientSecret! };
    const store = join(dir, "s-damaged");
    expect((await hpauth(["token", ...glArgs(store)], env)).code).toBe(0);
    const file = (await readdir(store)).find((f) => f.endsWith(".json") && !f.includes("budget"))!;
    await writeFile(join(store, file), '{"v": 1, "key": "profile:', { mode: 0o600 });
    const r = await hpauth(["token", ...glArgs(store)], env);
    expect(r.code, r.err).toBe(5);
    expect(r.out).toBe("");
    expect(r.err).toContain(file);
    const j = await hpauth(["token", "--json", ...glArgs(store)], env);
    expect(j.code).toBe(5);
    expect(JSON.parse(j.out).error).toMatchObject({ code: "STORE_ERROR", category: "store" });
  });

  it("emulator fault 503 on every attempt → 5 after the retries; --json shape", async () => {
    // The engine tries 3 times; 6 faults cover both runs below.
    await admin(emu.adminUrl, "/faults", {
      provider: "greenlake",
      endpoint: "token",
      type: "status",
      status: 503,
      count: 6,
    });
    try {
      const env = { GL_SECRET: emu.providers.greenlake!.clientSecret! };
      await admin(emu.adminUrl, "/counters/reset", {});
      const r = await hpauth(["token", ...glArgs(join(dir, "s5"))], env);
      expect(r.code, r.err).toBe(5);
      expect(r.out).toBe("");
      expect(r.err).toMatch(/503/);
      const counters = (await admin(emu.adminUrl, "/counters")) as Record<string, { tokenRequests: number }>;
      expect(counters.greenlake!.tokenRequests).toBe(3);
      const j = await hpauth(["token", "--json", ...glArgs(join(dir, "s5"))], env);
      expect(j.code).toBe(5);
      expect(JSON.parse(j.out).error).toMatchObject({ category: "network", status: 503 });
    } finally {
      await admin(emu.adminUrl, "/faults", undefined, "DELETE");
    }
  });

  it("token --timeout: an overall deadline → TIMEOUT, exit 5, instead of waiting for a slow service", async () => {
    await admin(emu.adminUrl, "/faults", {
      provider: "greenlake",
      endpoint: "token",
      type: "delay",
      delayMs: 8000,
      count: 1,
    });
    try {
      const env = { GL_SECRET: emu.providers.greenlake!.clientSecret! };
      const r = await hpauth(["token", "--json", "--timeout", "1", ...glArgs(join(dir, "s-timeout"))], env);
      expect(r.code, r.err).toBe(5);
      expect(JSON.parse(r.out).error).toMatchObject({ code: "TIMEOUT", category: "network" });
      expect(r.err).toMatch(/No token within 1 s \(--timeout 1\)/);
    } finally {
      await admin(emu.adminUrl, "/faults", undefined, "DELETE");
    }
  });

  it("--min-ttl beyond the tokens' lifetime: a warning, and the token is not renewed on every call", async () => {
    const env = { GL_SECRET: emu.providers.greenlake!.clientSecret! };
    const args = ["token", "--json", "--min-ttl", "999999", ...glArgs(join(dir, "s-minttl"))];
    const first = await hpauth(args, env);
    expect(first.code, first.err).toBe(0);
    expect(JSON.parse(first.out).source).toBe("login");
    expect(first.err).toMatch(/Warning: --min-ttl 999999 is longer than this new token is valid/);
    const second = await hpauth(args, env);
    expect(second.code, second.err).toBe(0);
    expect(second.err).toMatch(/Warning: --min-ttl 999999 is not shorter than the .* lifetime .*; using \d+ \(half/);
    expect(JSON.parse(second.out).source).toBe("cache");
    expect(JSON.parse(second.out).access_token).toBe(JSON.parse(first.out).access_token);
    // A satisfiable --min-ttl says nothing.
    const fine = await hpauth(["token", "--min-ttl", "10", ...glArgs(join(dir, "s-minttl"))], env);
    expect(fine.err).toBe("");
  });

  it("Aruba login budget → 4 with the time of the next attempt", async () => {
    const p = emu.providers["aruba-central"]!;
    const { env } = arubaFlags(p);
    const args = (store: string) => ["token", ...arubaFlags(p).flags, "--store-dir", store];
    expect((await hpauth(args(join(dir, "a1")), env)).code).toBe(0);
    // Another host (another store dir) inside 30 minutes: the service itself refuses the second login.
    const r = await hpauth(args(join(dir, "a2")), env);
    expect(r.code, r.err).toBe(4);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/Retry after \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in \d+m/);
    for (const s of secrets()) expect(r.err).not.toContain(s);
    const j = await hpauth([...args(join(dir, "a3")), "--json"], env);
    expect(j.code).toBe(4);
    const e = JSON.parse(j.out).error;
    expect(e.category).toBe("rate_limited");
    const wait = Date.parse(e.retry_at) - Date.now();
    expect(wait).toBeGreaterThan(25 * 60_000);
    expect(wait).toBeLessThanOrEqual(30 * 60_000 + 5_000);
  });

  it("emulate: --json ready line with --config options, --host mapped; stops on SIGTERM", async () => {
    const cfg = join(dir, "emu.toml");
    // The hpauth config file may carry emulator options in an [emulator] table; profiles beside it are fine.
    await writeFile(
      cfg,
      '[emulator.credentials.greenlake]\nclientId = "cfg-client-id"\n\n[profiles.x]\nprovider = "wxp"\nusername = "u"\npassword_env = "P"\n',
    );
    const child = spawn(process.execPath, [bin, "emulate", "--json", "--host", "127.0.0.1", "--config", cfg], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: join(tmpdir(), "hpauth-no-home") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stderr.on("data", (c) => {
      err += c;
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (c) => {
          out += c;
          if (out.includes("\n")) resolve(out.slice(0, out.indexOf("\n")));
        });
        child.on("close", () => reject(new Error(`emulate exited: ${err}`)));
      });
      const ready = JSON.parse(line);
      expect(Object.keys(ready).sort()).toEqual(["adminUrl", "providers"]);
      expect(ready.providers.greenlake.clientId).toBe("cfg-client-id");
      expect(new URL(ready.providers.greenlake.baseUrl).hostname).toBe("127.0.0.1");
      expect(((await admin(ready.adminUrl, "/clock")) as { epochMs: number }).epochMs).toBeGreaterThan(0);
      expect(err).not.toMatch(/unknown top-level key/);
    } finally {
      child.kill("SIGTERM");
    }
    // A signal is how the emulator is meant to stop (docker stop, CI teardown): a clean exit, ports closed.
    expect(await exited).toBe(0);
  });

  it("login: a forced new grant reported without the token; bad flags are usage errors", async () => {
    const env = { GL_SECRET: emu.providers.greenlake!.clientSecret! };
    const r = await hpauth(["login", "--json", ...glArgs(join(dir, "l1"))], env);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ ok: true, provider: "greenlake", source: "login" });
    expect(r.out).not.toMatch(/eyJ/);
    expect((await hpauth(["login", "--timeout", "0", ...glArgs(join(dir, "l1"))], env)).code).toBe(2);
    const missing = await hpauth(["login", "--import", join(dir, "no-such.json"), ...glArgs(join(dir, "l1"))], env);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/no-such\.json/);
  });

  it("login --no-browser with no terminal and stdin at EOF fails at once (LOGIN_REQUIRED, exit 3), not at --timeout", async () => {
    const p = emu.providers.techpulse!;
    const args = [
      "login",
      "--no-browser",
      "--timeout",
      "20",
      "--provider",
      "techpulse",
      "--base-url",
      p.baseUrl,
      "--client-id",
      p.clientId!,
      "--client-secret-env",
      "TP_SECRET",
      "--redirect-uri",
      p.redirectUri!,
      "--store",
      "memory",
    ];
    const r = await hpauth([...args, "--json"], { TP_SECRET: p.clientSecret! }, "");
    expect(r.code, r.err).toBe(3);
    expect(JSON.parse(r.out).error).toMatchObject({ code: "LOGIN_REQUIRED" });
    expect(r.err).toMatch(/The input ended before a login response was pasted/);
    expect(r.err).toMatch(/Open this URL in a browser/);
  }, 30_000);

  it("login --import -: an Aruba token pair from stdin is kept alive by refresh, no login spent", async () => {
    const p = emu.providers["aruba-central"]!;
    const { env } = arubaFlags(p);
    const arubaArgs = (store: string) => [...arubaFlags(p).flags, "--store-dir", store];
    // A pair made elsewhere: here, by a login into another store (Aruba's UI download has the same fields).
    await admin(emu.adminUrl, "/reset", {});
    const source = join(dir, "imp-src");
    expect((await hpauth(["token", ...arubaArgs(source)], env)).code).toBe(0);
    const file = (await readdir(source)).find((f) => f.endsWith(".json") && !f.includes("budget"));
    const rec = JSON.parse(await readFile(join(source, file!), "utf8")).record;
    expect(rec.refreshToken).toBeTruthy();
    const pair = JSON.stringify({
      access_token: rec.accessToken,
      refresh_token: rec.refreshToken,
      token_type: "bearer",
    });

    const target = join(dir, "imp-dst");
    const imp = await hpauth(["login", "--import", "-", ...arubaArgs(target)], env, pair);
    expect(imp.code, imp.err).toBe(0);
    expect(imp.out + imp.err).not.toContain(rec.refreshToken);
    expect(imp.out + imp.err).not.toContain(rec.accessToken);
    // A login here would be refused (the budget is spent): the token comes from the import.
    const t = await hpauth(["token", "--json", ...arubaArgs(target)], env);
    expect(t.code, t.err).toBe(0);
    expect(JSON.parse(t.out).source).not.toBe("login");
    const r = await hpauth(["token", "--json", "--force-refresh", ...arubaArgs(target)], env);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).source).toBe("refresh");
    const counters = (await admin(emu.adminUrl, "/counters")) as Record<string, { logins: number }>;
    expect(counters["aruba-central"]!.logins).toBe(1);
  });

  it("every command's --json: snake_case keys and RFC 3339 UTC timestamps to the second (docs/cli.md contract)", async () => {
    const gl = emu.providers.greenlake!;
    const aruba = emu.providers["aruba-central"]!;
    await admin(emu.adminUrl, "/reset", {});
    const cfg = join(dir, "json-contract.toml");
    await writeFile(
      cfg,
      `default_profile = "gl"
[profiles.gl]
provider = "greenlake"
base_url = "${gl.baseUrl}"
client_id = "${gl.clientId}"
client_secret_env = "GL_SECRET"
[profiles.gl.token_params]
someParam = "x"
[profiles.aruba]
provider = "aruba-central"
base_url = "${aruba.baseUrl}"
client_id = "${aruba.clientId}"
client_secret_env = "A_SECRET"
username = "${aruba.username}"
password_env = "A_PASSWORD"
customer_id = "${aruba.customerId}"
`,
      { mode: 0o600 },
    );
    const env = { GL_SECRET: gl.clientSecret!, ...arubaFlags(aruba).env };
    const base = (store = "s-json") => ["--json", "--config", cfg, "--store-dir", join(dir, store)];
    const runs: [string[], number, string?][] = [
      [["token"], 0],
      [["header"], 0],
      [["login"], 0],
      [["inspect"], 0],
      [["token", "-p", "aruba"], 0],
      [["token", "-p", "aruba"], 4, "s-json-2"], // another host inside the login budget: retry_at
      [["status"], 0],
      [["doctor"], 0],
      [["profiles", "list"], 0],
      [["profiles", "show", "gl"], 0],
      [
        [
          "profiles",
          "add",
          "extra",
          "--non-interactive",
          "--provider",
          "greenlake",
          "--client-id",
          "c",
          "--client-secret-env",
          "X",
        ],
        0,
      ],
      [["profiles", "remove", "extra"], 0],
      [["logout", "-p", "gl"], 0],
      [["logout", "-p", "gl"], 0],
      [["logout", "--all", "--yes"], 0],
      [["token", "--provider", "greenlake", "--base-url", "http://example.com"], 2], // an error's shape
      [["demo"], 0],
    ];
    const KEY = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
    const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
    // Copies of someone else's data keep their own names: a JWT's header and claims, decoded zip_authorities, and
    // the token request parameters a profile configures.
    const FOREIGN = new Set(["header", "claims", "zip_authorities", "token_params"]);
    const seenTimes = new Set<string>();
    const problems: string[] = [];
    const walk = (v: unknown, path: string) => {
      if (typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v) && !TIME.test(v)) problems.push(`${path}: ${v}`);
      if (Array.isArray(v)) {
        for (const [i, x] of v.entries()) walk(x, `${path}[${i}]`);
      } else if (v && typeof v === "object") {
        for (const [k, x] of Object.entries(v)) {
          if (!KEY.test(k)) problems.push(`${path}.${k}: not snake_case`);
          if (k.endsWith("_at")) {
            if (typeof x !== "string" || !TIME.test(x)) problems.push(`${path}.${k}: ${String(x)}`);
            else seenTimes.add(k);
            continue;
          }
          if (!(FOREIGN.has(k) && typeof x === "object")) walk(x, `${path}.${k}`);
        }
      }
    };
    for (const [args, code, store] of runs) {
      const r = await hpauth([...args, ...base(store)], env);
      expect(r.code, `${args.join(" ")}: ${r.err}`).toBe(code);
      const lines = r.out.trim().split("\n");
      expect(lines, args.join(" ")).toHaveLength(1);
      walk(JSON.parse(lines[0]!), args.join(" "));
    }
    expect(problems).toEqual([]);
    // The walk saw the timestamps it is about.
    for (const k of ["expires_at", "issued_at", "retry_at", "last_login_at", "next_login_allowed_at"])
      expect([...seenTimes]).toContain(k);
  }, 90_000);

  it("logout of an Aruba profile without a terminal: refused without --yes (exit 2, nothing deleted), done with it", async () => {
    const p = emu.providers["aruba-central"]!;
    const { env } = arubaFlags(p);
    const args = [...arubaFlags(p).flags, "--store-dir", join(dir, "logout-aruba")];
    await admin(emu.adminUrl, "/reset", {});
    expect((await hpauth(["token", ...args], env)).code).toBe(0);
    const refused = await hpauth(["logout", ...args], env);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/without --yes.*30 minutes/s);
    expect((await hpauth(["token", "--json", ...args], env)).out).toMatch(/"source":"cache"/);
    const done = await hpauth(["logout", "--yes", "--json", ...args], env);
    expect(done.code, done.err).toBe(0);
    expect(JSON.parse(done.out)).toEqual({ profile: "aruba-central", deleted: true });
    const nothing = await hpauth(["logout", "--json", ...args], env);
    expect(JSON.parse(nothing.out)).toEqual({ profile: "aruba-central", deleted: false });
  });

  it("--help lists exit codes; a bare call is a usage error", async () => {
    const h = await hpauth(["--help"]);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/Exit codes:/);
    expect((await hpauth([])).code).toBe(2);
  });

  it("demo: exit 0, a row per provider, no secret anywhere", async () => {
    const r = await hpauth(["demo"]);
    expect(r.code, r.out + r.err).toBe(0);
    for (const p of [
      "techpulse",
      "wxp",
      "greenlake",
      "aruba-central",
      "hpe-identity",
      "greenlake-platform",
      "new-central",
    ])
      expect(r.out).toContain(p);
    for (const s of secrets()) expect(r.out + r.err).not.toContain(s);
    const j = await hpauth(["demo", "--json"]);
    expect(j.code).toBe(0);
    const parsed = JSON.parse(j.out);
    expect(parsed.ok).toBe(true);
    expect(parsed.providers).toHaveLength(7);
    for (const row of parsed.providers) {
      expect(row.api_status).toBe(200);
      expect(row.token).toMatch(/^.{4}…\(\d+ chars\)$/);
    }
  }, 60_000);
});
