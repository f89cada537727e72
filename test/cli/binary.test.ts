/**
 * The built CLI as real child processes: `npm run build` once, then `node bin/hpauth.js …`. Secrets reach the
 * children through their environment, never argv.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
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

function hpauth(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [bin, ...args], {
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
    // Just the CLI bundle (seconds); `npm run build` also runs tsc for the library, which these tests do not use.
    await promisify(execFile)(process.execPath, [join(root, "scripts/build.mjs"), "--cli-only"], {
      cwd: root,
      timeout: 120_000,
    });
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

  it("the cached path is fast", async () => {
    const env = { GL_SECRET: emu.providers.greenlake!.clientSecret! };
    await hpauth(["token", ...glArgs(join(dir, "s3"))], env);
    const r = await hpauth(["token", ...glArgs(join(dir, "s3"))], env);
    expect(r.code).toBe(0);
    // Generous for a loaded 2-core CI box; typically ~100 ms.
    expect(r.ms).toBeLessThan(3000);
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

  it("--help lists exit codes; a bare call is a usage error", async () => {
    const h = await hpauth(["--help"]);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/Exit codes:/);
    expect((await hpauth([])).code).toBe(2);
  });

  it("demo: exit 0, a row per provider, no secret anywhere", async () => {
    const r = await hpauth(["demo"]);
    expect(r.code, r.out + r.err).toBe(0);
    for (const p of ["techpulse", "wxp", "greenlake", "aruba-central", "hpe-identity"]) expect(r.out).toContain(p);
    for (const s of secrets()) expect(r.out + r.err).not.toContain(s);
    const j = await hpauth(["demo", "--json"]);
    expect(j.code).toBe(0);
    const parsed = JSON.parse(j.out);
    expect(parsed.ok).toBe(true);
    expect(parsed.providers).toHaveLength(5);
    for (const row of parsed.providers) {
      expect(row.api_status).toBe(200);
      expect(row.token).toMatch(/^.{4}…\(\d+ chars\)$/);
    }
  }, 60_000);
});
