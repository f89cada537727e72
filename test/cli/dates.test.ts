/**
 * Issue 7 item 7: out-of-range dates and damaged store records, in the built CLI as users run it. A JWT claiming
 * `exp: 1e20` and a record with `expiresAt: 1e20` (or a string) used to end in `RangeError: Invalid time value`, exit 1.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, arubaFlags } from "./helpers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = join(root, "bin/hpauth.js");

function hpauth(args: string[], env: Record<string, string> = {}, stdin = "") {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: join(tmpdir(), "hpauth-no-home"), ...env },
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
    child.on("close", (code) => resolve({ code, out, err }));
    child.stdin.end(stdin);
  });
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
const jwt = (claims: Record<string, unknown>) => `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.c2ln`;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

describe("inspect: claims that are no date", () => {
  it.each([1e20, -1e20, 8.64e12, 1e300])("exp = iat = nbf = %s: exit 0, the claim shown as is", async (n) => {
    const token = jwt({ sub: "x", exp: n, iat: n, nbf: n });
    const j = await hpauth(["inspect", "--json", "--token", "-"], {}, token);
    expect(j.code, j.err).toBe(0);
    const parsed = JSON.parse(j.out);
    expect(parsed.claims).toMatchObject({ exp: n, iat: n, nbf: n });
    expect(parsed.expires_at).toBeUndefined();
    const h = await hpauth(["inspect", "--token", "-"], {}, token);
    expect(h.code, h.err).toBe(0);
    expect(h.err).not.toMatch(/RangeError|Invalid time/);
    expect(h.out).toMatch(/exp\s+\S+\s+\(not a date between 1970 and 9999\)/);
  });

  it("a normal exp still shows its RFC 3339 time", async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const j = await hpauth(["inspect", "--json", "--token", "-"], {}, jwt({ exp, iat: exp - 600 }));
    expect(JSON.parse(j.out).expires_at).toBe(new Date(exp * 1000).toISOString().replace(".000Z", "Z"));
  });
});

describe("token and status over a damaged store record", () => {
  let emu: {
    providers: Record<string, Record<string, string> & { baseUrl: string }>;
    adminUrl: string;
    close(): Promise<void>;
  };
  let dir: string;
  beforeAll(async () => {
    const { startEmulator } = await import("../../src/emulator/index.js");
    emu = (await startEmulator()) as never;
    dir = await mkdtemp(join(tmpdir(), "hpauth-dates-"));
  });
  afterAll(async () => {
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function damage(store: string, edit: (rec: Record<string, unknown>) => void): Promise<string> {
    const name = (await readdir(store)).find((n) => n.endsWith(".json") && !n.includes("budget"));
    const file = join(store, name!);
    const doc = JSON.parse(await readFile(file, "utf8"));
    edit(doc.record);
    await writeFile(file, JSON.stringify(doc));
    return file;
  }

  const counters = async () =>
    ((await admin(emu.adminUrl, "/counters")) as Record<string, Record<string, number>>)["aruba-central"]!;

  it.each<[string, (r: Record<string, unknown>) => void]>([
    [
      "expiresAt: 1e20",
      (r) => {
        r.expiresAt = 1e20;
      },
    ],
    [
      "expiresAt: -1e20",
      (r) => {
        r.expiresAt = -1e20;
      },
    ],
    [
      "expiresAt: a string",
      (r) => {
        r.expiresAt = "tomorrow";
      },
    ],
    [
      "obtainedAt: an object",
      (r) => {
        r.obtainedAt = { at: 1 };
      },
    ],
    [
      "accessToken: a number",
      (r) => {
        r.accessToken = 42;
      },
    ],
    [
      "lastRefreshAt: 1e20 and lastError garbage",
      (r) => {
        r.lastRefreshAt = 1e20;
        r.lastError = "boom";
      },
    ],
  ])(
    "Aruba, %s: status shows it, token refreshes with the good refresh token (no login), a copy is kept",
    async (_what, edit) => {
      const store = join(dir, `s-${Math.random().toString(36).slice(2)}`);
      const p = emu.providers["aruba-central"]!;
      const { flags, env } = arubaFlags(p);
      const args = [...flags, "--store-dir", store];
      // Aruba's emulator allows one new token per client id per 30 minutes: a fresh window for each case.
      await admin(emu.adminUrl, "/clock/advance", { seconds: 1801 });
      const first = await hpauth(["token", ...args], env);
      expect(first.code, first.err).toBe(0);
      const file = await damage(store, edit);
      const before = await counters();

      const s = await hpauth(["status", "--json", ...args], env);
      expect(s.code, s.err).toBe(0);
      expect(s.err).not.toMatch(/RangeError|Invalid time|internal error/);
      const row = JSON.parse(s.out).profiles[0];
      expect(row.has_refresh_token).toBe(true);
      for (const k of ["expires_at", "last_refresh_at", "last_login_at"]) if (row[k]) expect(row[k]).toMatch(RFC3339);
      expect(s.err).toContain(file);
      expect(s.err).toMatch(/damaged fields/);
      const human = await hpauth(["status", ...args], env);
      expect(human.code, human.err).toBe(0);
      expect(human.out).toMatch(/aruba-central/);
      expect(human.err).not.toMatch(/RangeError|Invalid time|internal error/);

      const t = await hpauth(["token", "--json", ...args], env);
      expect(t.code, t.err).toBe(0);
      const tok = JSON.parse(t.out);
      expect(tok.expires_at).toMatch(RFC3339);
      const after = await counters();
      // A damaged expiry is no expiry: the refresh token (still good) gets a new access token; no login spent.
      if (_what.startsWith("lastRefreshAt")) expect(tok.source).toBe("cache");
      else expect(tok.source).toBe("refresh");
      expect(after.logins ?? 0).toBe(before.logins ?? 0);
      const copies = (await readdir(store)).filter((n) => n.includes(".corrupt-"));
      expect(copies).toHaveLength(1);
      // The damaged record was replaced by a valid one: the next run is quiet.
      const again = await hpauth(["token", ...args], env);
      expect(again.code).toBe(0);
      expect(again.err).not.toMatch(/damaged/);
    },
  );

  it("a refresh token that is no string: refused like a corrupt file, no login, nothing overwritten", async () => {
    const store = join(dir, "rt-bad");
    const p = emu.providers["aruba-central"]!;
    const { flags, env } = arubaFlags(p);
    const args = [...flags, "--store-dir", store];
    await admin(emu.adminUrl, "/clock/advance", { seconds: 1801 });
    expect((await hpauth(["token", ...args], env)).code).toBe(0);
    const file = await damage(store, (r) => {
      r.refreshToken = { value: r.refreshToken };
      r.expiresAt = 1e20;
    });
    const bytes = await readFile(file, "utf8");
    const before = await counters();
    const t = await hpauth(["token", ...args], env);
    expect(t.code).not.toBe(0);
    expect(t.err).not.toMatch(/RangeError|Invalid time|This is a bug/);
    expect(t.err).toContain(file);
    expect(t.err).toMatch(/refreshToken is not a token string/);
    expect(await readFile(file, "utf8")).toBe(bytes);
    expect((await counters()).logins ?? 0).toBe(before.logins ?? 0);
    const s = await hpauth(["status", "--json", ...args], env);
    expect(s.code, s.err).toBe(0);
    expect(JSON.parse(s.out).profiles[0]).toMatchObject({ state: "invalid", last_error: { code: "STORE_ERROR" } });
  });

  it("GreenLake (no refresh grant), expiresAt: 1e20: a new grant, RFC 3339 expires_at", async () => {
    const store = join(dir, "gl");
    const p = emu.providers.greenlake!;
    const args = [
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
    const env = { GL_SECRET: p.clientSecret! };
    expect((await hpauth(["token", ...args], env)).code).toBe(0);
    await damage(store, (r) => {
      r.expiresAt = 1e20;
    });
    const t = await hpauth(["token", "--json", ...args], env);
    expect(t.code, t.err).toBe(0);
    expect(JSON.parse(t.out)).toMatchObject({ source: "login", expires_at: expect.stringMatching(RFC3339) });
  });
});
