/**
 * The built CLI as real child processes: `npm run build` once, then `node bin/hpauth.js …`. Secrets reach the
 * children through their environment, never argv.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin } from "./helpers.js";

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
    await promisify(execFile)(process.execPath, [join(root, "scripts/build.mjs")], { cwd: root, timeout: 180_000 });
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

  it("bad config → 2", async () => {
    const r = await hpauth(["token", "--config", join(dir, "nope.toml")]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/nope\.toml/);
    expect(r.out).toBe("");
  });

  it("bad credentials → 3", async () => {
    const r = await hpauth(["token", ...glArgs(join(dir, "s4"))], { GL_SECRET: "wrong-secret-value" });
    expect(r.code).toBe(3);
    expect(r.out).toBe("");
    expect(r.err).not.toContain("wrong-secret-value");
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

  it("emulator fault → 5", async () => {
    await admin(emu.adminUrl, "/faults", {
      provider: "greenlake",
      endpoint: "token",
      type: "status",
      status: 500,
      count: 20,
    });
    try {
      const r = await hpauth(["token", ...glArgs(join(dir, "s5"))], {
        GL_SECRET: emu.providers.greenlake!.clientSecret!,
      });
      expect(r.code).toBe(5);
    } finally {
      await admin(emu.adminUrl, "/faults", undefined, "DELETE");
    }
  });

  it("Aruba login budget → 4 with the time of the next attempt", async () => {
    const p = emu.providers["aruba-central"]!;
    const env = { A_SECRET: p.clientSecret!, A_PASSWORD: p.password! };
    const args = (store: string) => [
      "token",
      "--provider",
      "aruba-central",
      "--base-url",
      p.baseUrl,
      "--client-id",
      p.clientId!,
      "--client-secret-env",
      "A_SECRET",
      "--username",
      p.username!,
      "--password-env",
      "A_PASSWORD",
      "--customer-id",
      p.customerId!,
      "--store-dir",
      store,
    ];
    expect((await hpauth(args(join(dir, "a1")), env)).code).toBe(0);
    const r = await hpauth(args(join(dir, "a2")), env);
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/Retry after \d{4}-\d\d-\d\d/);
    for (const s of secrets()) expect(r.err).not.toContain(s);
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
