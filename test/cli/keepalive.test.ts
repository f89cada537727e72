/**
 * `hpauth keepalive` in the built CLI as cron runs it, against the emulator. Time passing is made on both sides: the
 * emulator's clock is moved by the admin API and the stored record is aged by the same amount (the CLI process reads
 * the real clock), so the emulator, the store and the CLI agree on a refresh token's idle age.
 */
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { admin } from "./helpers.js";
import { privateCli } from "./private-cli.js";

const DAY = 86_400_000;
const root = fileURLToPath(new URL("../..", import.meta.url));

interface Run {
  code: number | null;
  out: string;
  err: string;
}

describe("hpauth keepalive", () => {
  let emu: Emulator;
  let dir: string;
  let bin: string;
  let cfg: string;
  let store: string;
  let env: Record<string, string>;

  function hpauth(args: string[]): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bin, ...args, "--config", cfg, "--store-dir", store], {
        env: { PATH: process.env.PATH ?? "", HOME: join(dir, "home"), ...env },
        stdio: ["ignore", "pipe", "pipe"],
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
    });
  }

  type Counters = Record<"logins" | "codes" | "tokensIssued" | "refreshes" | "tokenRequests", number> & {
    refusals: Record<string, number>;
  };
  const counters = async () => ((await admin(emu.adminUrl, "/counters")) as Record<string, Counters>)["aruba-central"]!;

  /** `days` pass: the emulator's clock moves, and every time in the store (under `where`) moves back by as much. */
  async function pass(days: number, where = store): Promise<void> {
    await admin(emu.adminUrl, "/clock/advance", { seconds: days * 86_400 });
    const names = (await readdir(where, { recursive: true })) as string[];
    for (const name of names.filter((n) => n.endsWith(".json") && !n.includes(".config"))) {
      const file = join(where, name);
      const doc = JSON.parse(await readFile(file, "utf8"));
      for (const k of Object.keys(doc.record))
        if (k.endsWith("At") && typeof doc.record[k] === "number") doc.record[k] -= days * DAY;
      await writeFile(file, JSON.stringify(doc));
    }
  }

  const byProfile = (r: Run) =>
    Object.fromEntries((JSON.parse(r.out).profiles as Array<{ profile: string }>).map((p) => [p.profile, p])) as Record<
      string,
      Record<string, unknown> & { error?: Record<string, unknown> }
    >;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hpauth-keepalive-"));
    bin = await privateCli(dir);
    emu = await startEmulator();
    store = join(dir, "store");
    cfg = join(dir, "config.toml");
    const a = emu.providers["aruba-central"];
    const g = emu.providers.greenlake;
    const w = emu.providers.wxp;
    const t = emu.providers.techpulse;
    env = { A_SECRET: a.clientSecret!, A_PASSWORD: a.password!, GL_SECRET: g.clientSecret!, W_PASSWORD: w.password! };
    await writeFile(
      cfg,
      [
        "[profiles.aruba]",
        `provider = "aruba-central"\nbase_url = "${a.baseUrl}"\nclient_id = "${a.clientId}"\nclient_secret_env = "A_SECRET"`,
        `username = "${a.username}"\npassword_env = "A_PASSWORD"\ncustomer_id = "${a.customerId}"`,
        "[profiles.gl]",
        `provider = "greenlake"\nbase_url = "${g.baseUrl}"\nclient_id = "${g.clientId}"\nclient_secret_env = "GL_SECRET"`,
        "[profiles.wxp]",
        `provider = "wxp"\nbase_url = "${w.baseUrl}"\nusername = "${w.username}"\npassword_env = "W_PASSWORD"`,
        "[profiles.tp]",
        `provider = "techpulse"\nbase_url = "${t.baseUrl}"\nclient_id = "${t.clientId}"\nclient_secret = "x"\nredirect_uri = "${t.redirectUri}"`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
  }, 120_000);
  afterAll(async () => {
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a fresh Aruba refresh token is not needed; providers without one say so; nothing is sent", async () => {
    const first = await hpauth(["token", "-p", "aruba"]);
    expect(first.code, first.err).toBe(0);
    const token = first.out.trim();
    const before = await counters();
    const r = await hpauth(["keepalive", "--all", "--json"]);
    expect(r.code, r.err).toBe(0);
    const rows = byProfile(r);
    expect(Object.keys(rows)).toEqual(["aruba", "gl", "wxp", "tp"]);
    expect(rows.aruba).toMatchObject({ provider: "aruba-central", result: "not_needed" });
    // Issued just now, dies after 15 idle days.
    const dies = Date.parse(rows.aruba!.refresh_token_expires_at as string);
    expect(Math.abs(dies - (Date.now() + 15 * DAY))).toBeLessThan(120_000);
    expect(rows.gl).toMatchObject({ result: "no_refresh_token", reason: expect.stringMatching(/no refresh grant/) });
    expect(rows.wxp).toMatchObject({ result: "no_refresh_token", reason: expect.stringMatching(/no refresh grant/) });
    expect(rows.tp).toMatchObject({ result: "no_refresh_token", reason: expect.stringMatching(/hpauth login -p tp/) });
    // status shows the same date.
    const s = await hpauth(["status", "--json"]);
    const st = (JSON.parse(s.out).profiles as Array<Record<string, unknown>>).find((p) => p.profile === "aruba");
    expect(st?.refresh_token_expires_at).toBe(rows.aruba!.refresh_token_expires_at);
    expect((await counters()).tokenRequests).toBe(before.tokenRequests);
    expect(r.out + r.err).not.toContain(token);
  });

  it("a refresh is not a login: right after a login (Aruba's budget spent) --within 20 refreshes, no login", async () => {
    const before = await counters();
    const r = await hpauth(["keepalive", "-p", "aruba", "--within", "20", "--json"]);
    expect(r.code, r.err).toBe(0);
    expect(byProfile(r).aruba).toMatchObject({ result: "refreshed", expires_at: expect.any(String) });
    const after = await counters();
    expect(after.refreshes).toBe(before.refreshes + 1);
    expect(after.logins).toBe(before.logins);
    // Not even a step of a login (Aruba's one new token per 30 minutes is for steps 1–2).
    expect(after.codes).toBe(before.codes);
  });

  it("10 idle days later: --dry-run says it would refresh and sends nothing; then it refreshes, once", async () => {
    await pass(10);
    const before = await counters();
    const dry = await hpauth(["keepalive", "--all", "--dry-run", "--json"]);
    expect(dry.code, dry.err).toBe(0);
    expect(JSON.parse(dry.out)).toMatchObject({ dry_run: true, within_days: 7 });
    expect(byProfile(dry).aruba).toMatchObject({ result: "would_refresh" });
    expect(byProfile(dry).gl).toMatchObject({
      result: "no_refresh_token",
      reason: expect.stringMatching(/no refresh grant/),
    });
    expect((await counters()).tokenRequests).toBe(before.tokenRequests);

    const r = await hpauth(["keepalive", "--all"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^aruba\s+aruba-central\s+refreshed\s+refresh token good until \d{4}-/m);
    expect(r.out).toMatch(/^gl\s+greenlake\s+no refresh token\s+/m);
    const after = await counters();
    expect(after.refreshes).toBe(before.refreshes + 1);
    expect(after.logins).toBe(before.logins);

    const again = await hpauth(["keepalive", "--all", "--json"]);
    expect(again.code).toBe(0);
    expect(byProfile(again).aruba).toMatchObject({ result: "not_needed" });
    expect((await counters()).refreshes).toBe(after.refreshes);
  });

  it("two keepalives at once (cron on two hosts sharing a store): one refresh, the other finds it not needed", async () => {
    await pass(10);
    const before = await counters();
    const [a, b] = await Promise.all([
      hpauth(["keepalive", "--all", "--json"]),
      hpauth(["keepalive", "--all", "--json"]),
    ]);
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    const results = [byProfile(a).aruba!.result, byProfile(b).aruba!.result].sort();
    expect(results).toEqual(["not_needed", "refreshed"]);
    const after = await counters();
    expect(after.refreshes).toBe(before.refreshes + 1);
    expect(after.refusals?.refresh_reused ?? 0).toBe(before.refusals?.refresh_reused ?? 0);
  });

  it("the identity service failing (503 after retries): failed, exit 5, the refresh token kept for the next run", async () => {
    await pass(10);
    await admin(emu.adminUrl, "/faults", {
      provider: "aruba-central",
      endpoint: "token",
      type: "status",
      status: 503,
      count: 5,
    });
    const r = await hpauth(["keepalive", "-p", "aruba", "--json"]);
    await admin(emu.adminUrl, "/faults", undefined, "DELETE");
    expect(r.code, r.err).toBe(5);
    expect(byProfile(r).aruba).toMatchObject({ result: "failed", error: { exit_code: 5 } });
    const next = await hpauth(["keepalive", "-p", "aruba", "--json"]);
    expect(next.code, next.err).toBe(0);
    expect(byProfile(next).aruba).toMatchObject({ result: "refreshed" });
  });

  it("a refresh token left idle past 15 days: failed, exit 3, what to do; no login attempted", async () => {
    await pass(16);
    const before = await counters();
    const r = await hpauth(["keepalive", "--all", "--json"]);
    expect(r.code).toBe(3);
    const rows = byProfile(r);
    expect(rows.aruba).toMatchObject({ result: "failed", error: { code: "LOGIN_REQUIRED", exit_code: 3 } });
    expect(rows.aruba!.error!.hint).toMatch(/hpauth login -p aruba/);
    expect(rows.gl).toMatchObject({ result: "no_refresh_token" });
    const after = await counters();
    expect(after.logins).toBe(before.logins);
    expect(after.tokensIssued).toBe(before.tokensIssued);
    // The one request sent was the refresh, refused as expired.
    expect(after.refusals?.refresh_expired ?? 0).toBe((before.refusals?.refresh_expired ?? 0) + 1);

    const human = await hpauth(["keepalive", "-p", "aruba"]);
    expect(human.code).toBe(3);
    expect(human.out).toMatch(/^aruba\s+aruba-central\s+failed\s+LOGIN_REQUIRED: /m);
    expect(human.out).toMatch(/hpauth login -p aruba/);
    for (const s of Object.values(env)) expect(r.out + r.err + human.out + human.err).not.toContain(s);
  });

  it("usage: --all with -p is refused (exit 2); an unknown profile is a failed row (exit 2)", async () => {
    expect((await hpauth(["keepalive", "--all", "-p", "aruba"])).code).toBe(2);
    const r = await hpauth(["keepalive", "-p", "nope", "-p", "gl", "--json"]);
    expect(r.code).toBe(2);
    const rows = byProfile(r);
    expect(rows.nope).toMatchObject({ result: "failed", error: { code: "PROFILE_NOT_FOUND" } });
    expect(rows.gl).toMatchObject({ result: "no_refresh_token" });
  });

  describe("the recipes in docs/recipes.md", () => {
    const recipes = () => readFile(join(root, "docs", "recipes.md"), "utf8");
    let wrapperDir: string;
    beforeAll(async () => {
      wrapperDir = join(dir, "wrapper");
      await mkdir(wrapperDir, { recursive: true });
      await writeFile(
        join(wrapperDir, "hpauth"),
        `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} "$@"\n`,
        {
          mode: 0o755,
        },
      );
    });

    it("the cron line: silent when every profile is fine, the JSON report when one failed", async () => {
      const line = (await recipes()).split("\n").find((l) => /^\d+ \d+ \* \* \*\s/.test(l));
      const command = line!.replace(/^(\S+\s+){5}/, "");
      const home = join(dir, "cron-home");
      await mkdir(join(home, ".config", "hpauth"), { recursive: true });
      await writeFile(join(home, ".config", "hpauth", "config.toml"), await readFile(cfg, "utf8"), { mode: 0o600 });
      await writeFile(
        join(home, ".config", "hpauth", "keepalive.env"),
        Object.entries(env)
          // Single quotes: read alike by systemd's EnvironmentFile= and by sh's `.` (the values have shell specials).
          .map(([k, v]) => `${k}='${v}'`)
          .join("\n"),
        { mode: 0o600 },
      );
      const cron = () =>
        promisify(execFile)("sh", ["-c", command], {
          env: { HOME: home, PATH: `${wrapperDir}:/usr/bin:/bin` },
        });
      // The first run signs nothing in: Aruba has no token in this store yet (no_refresh_token is no failure).
      expect((await cron()).stdout).toBe("");
      const login = await promisify(execFile)(
        "sh",
        ["-c", "set -a; . ~/.config/hpauth/keepalive.env; hpauth token -p aruba"],
        {
          env: { HOME: home, PATH: `${wrapperDir}:/usr/bin:/bin` },
        },
      );
      expect(login.stdout.trim()).not.toBe("");
      await pass(10, home);
      const before = await counters();
      expect((await cron()).stdout).toBe("");
      expect((await counters()).refreshes).toBe(before.refreshes + 1);
      // Revoked by an administrator; found out by the next refresh the timer needs, 9 idle days later.
      await admin(emu.adminUrl, "/revoke", { provider: "aruba-central" });
      await pass(9, home);
      const failed = await cron();
      const report = JSON.parse(failed.stdout);
      expect(report.profiles.find((p: { profile: string }) => p.profile === "aruba")).toMatchObject({
        result: "failed",
        error: { code: "LOGIN_REQUIRED" },
      });
      for (const v of Object.values(env)) expect(failed.stdout).not.toContain(v);
    });

    it("the systemd units pass systemd-analyze verify", async () => {
      const text = await recipes();
      const units = [...text.matchAll(/```ini\n# (hpauth-keepalive\.(?:service|timer))\n([\s\S]*?)```/g)];
      expect(units.map((m) => m[1])).toEqual(["hpauth-keepalive.service", "hpauth-keepalive.timer"]);
      const unitDir = join(dir, "units");
      await mkdir(unitDir, { recursive: true });
      for (const [, name, body] of units) {
        // systemd checks that ExecStart's program exists: the docs' /usr/local/bin/hpauth is the wrapper here.
        await writeFile(join(unitDir, name!), body!.replace("/usr/local/bin/hpauth", join(wrapperDir, "hpauth")));
      }
      const r = await promisify(execFile)(
        "systemd-analyze",
        ["verify", join(unitDir, "hpauth-keepalive.service"), join(unitDir, "hpauth-keepalive.timer")],
        { env: { PATH: process.env.PATH ?? "" } },
      );
      expect(r.stderr).toBe("");
    });
  });
});
