/**
 * `hpauth doctor` through the built CLI as a process: a healthy profile (TLS emulator, ca_file, through a proxy)
 * passes; each fail path fails with its fix and exit 7, the whole report on stdout with --json either way.
 */
import { execFileSync, spawn } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { admin } from "./helpers.js";
import { type ForwardProxy, runCli, startForwardProxy } from "./network-helpers.js";
import { privateCli } from "./private-cli.js";

interface Check {
  id: string;
  status: "pass" | "warn" | "fail" | "skip";
  message: string;
  fix?: string;
  [k: string]: unknown;
}
interface Report {
  ok: boolean;
  profile: string | null;
  provider: string | null;
  config: string | null;
  checked_at: string;
  summary: Record<string, number>;
  checks: Check[];
}

describe("hpauth doctor", () => {
  let dir: string;
  let bin: string;
  let tls: Emulator;
  let plain: Emulator;
  let proxy: ForwardProxy;
  let n = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hpauth-doctor-"));
    [bin, tls, plain, proxy] = await Promise.all([
      privateCli(dir),
      startEmulator({ tls: true }),
      startEmulator(),
      startForwardProxy(),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([tls?.close(), plain?.close(), proxy?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function gl(emu: Emulator, ...extra: string[]) {
    const p = emu.providers.greenlake;
    return {
      args: [
        "--provider",
        "greenlake",
        "--base-url",
        p.baseUrl,
        "--client-id",
        p.clientId ?? "",
        "--client-secret-env",
        "GL_SECRET",
        "--store-dir",
        join(dir, `store-${++n}`),
        ...extra,
      ],
      env: { GL_SECRET: p.clientSecret ?? "" },
    };
  }

  async function doctor(args: string[], env: Record<string, string>) {
    const r = await runCli(bin, ["doctor", "--json", "--timeout", "5", ...args], env);
    const report = JSON.parse(r.out) as Report;
    const by = (id: string) => report.checks.filter((c) => c.id === id);
    const one = (id: string) => {
      const found = by(id);
      expect(found, `${id} in ${JSON.stringify(report.checks.map((c) => c.id))}`).toHaveLength(1);
      return found[0] as Check;
    };
    return { ...r, report, by, one };
  }

  const secretsOf = (emu: Emulator) =>
    Object.values(emu.providers).flatMap((p) => [p.clientSecret, p.password].filter((s): s is string => !!s));

  it("a healthy profile given by flags alone, over TLS with ca_file and through a proxy: exit 0, no missing-config fail", async () => {
    proxy.log.length = 0;
    const g = gl(tls, "--ca-file", tls.caFile ?? "");
    const d = await doctor(g.args, { ...g.env, HTTPS_PROXY: proxy.url });
    expect(d.code, d.err + d.out).toBe(0);
    expect(d.report.ok).toBe(true);
    expect(d.report).toMatchObject({ profile: "greenlake", provider: "greenlake", config: null });
    expect(d.report.checked_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(d.one("config").status).toBe("skip");
    expect(d.one("config").message).toContain("not needed");
    for (const id of ["profile", "secret_client_secret", "store", "ca_file", "identity_route", "identity_tls", "clock"])
      expect(d.one(id).status, `${id}: ${d.one(id).message}`).toBe("pass");
    expect(d.one("identity_route")).toMatchObject({ proxy: proxy.url, proxy_from: "HTTPS_PROXY" });
    // DNS and TCP are the proxy's (an IP literal: no lookup needed); the TLS check went through its tunnel.
    expect(d.one("identity_tcp").message).toContain(`the proxy ${new URL(proxy.url).host}`);
    expect(proxy.log).toContain(`CONNECT ${new URL(tls.providers.greenlake.baseUrl).host}`);
    expect(d.one("token")).toMatchObject({ status: "pass", state: "none" });
    expect(d.report.summary.fail).toBe(0);
    for (const s of secretsOf(tls)) expect(d.out + d.err).not.toContain(s);
    // Read-only: the identity service saw no token request.
    const counters = (await admin(tls.adminUrl, "/counters")) as Record<string, { tokenRequests: number }>;
    expect(counters.greenlake?.tokenRequests).toBe(0);
  });

  it("the human report: one line per check, the fix under a failure, exit 7; progress never on stdout", async () => {
    const g = gl(tls);
    const r = await runCli(bin, ["doctor", ...g.args], g.env);
    expect(r.code).toBe(7);
    expect(r.out).toMatch(
      /✗ identity_tls\s+identity service check: the TLS certificate of https:\/\/127\.0\.0\.1:\d+ is signed by a certificate authority this machine does not trust/,
    );
    expect(r.out).toMatch(/→ .*ca_file \(or NODE_EXTRA_CA_CERTS\)/);
    expect(r.out).toMatch(/\d+ passed, \d+ warnings?, 1 failed/);
    expect(r.err).toBe("");
  });

  it("unknown CA: identity_tls fails naming ca_file; NODE_EXTRA_CA_CERTS fixes it", async () => {
    const g = gl(tls);
    const bad = await doctor(g.args, g.env);
    expect(bad.code).toBe(7);
    expect(bad.report.ok).toBe(false);
    const t = bad.one("identity_tls");
    expect(t.status).toBe("fail");
    expect(t.fix).toContain("ca_file");
    expect(bad.one("clock").status).toBe("skip");
    const good = await doctor(g.args, { ...g.env, NODE_EXTRA_CA_CERTS: tls.caFile ?? "" });
    expect(good.code, good.out).toBe(0);
    expect(good.one("node_extra_ca_certs")).toMatchObject({ status: "pass", certificates: 1 });
  });

  it("the clock: the server's Date header follows the emulator's clock, so a moved clock is a skew", async () => {
    const g = gl(plain);
    try {
      await admin(plain.adminUrl, "/clock/advance", { seconds: 180 });
      const warn = await doctor(g.args, g.env);
      expect(warn.code).toBe(0);
      expect(warn.one("clock")).toMatchObject({ status: "warn" });
      expect(Math.abs((warn.one("clock").skew_seconds as number) - 180)).toBeLessThanOrEqual(2);
      expect(warn.one("clock").message).toContain("behind");
      await admin(plain.adminUrl, "/clock/advance", { seconds: 3600 });
      const fail = await doctor(g.args, g.env);
      expect(fail.code).toBe(7);
      expect(fail.one("clock")).toMatchObject({ status: "fail" });
      expect(fail.one("clock").fix).toContain("NTP");
    } finally {
      await admin(plain.adminUrl, "/reset", {});
    }
  });

  it("configuration: a --config that is missing, and one that is not valid, fail; a group-writable one fails", async () => {
    const g = gl(plain);
    const missing = await doctor(["--config", join(dir, "nope.toml")], g.env);
    expect(missing.code).toBe(7);
    expect(missing.one("config")).toMatchObject({ status: "fail" });
    expect(missing.one("config").message).toContain("does not exist");

    const broken = join(dir, "broken.toml");
    await writeFile(broken, "[profiles.gl\nprovider = ", { mode: 0o600 });
    const invalid = await doctor(["--config", broken], g.env);
    expect(invalid.code).toBe(7);
    expect(invalid.one("config").status).toBe("fail");

    const p = plain.providers.greenlake;
    const cfg = join(dir, "open.toml");
    await writeFile(
      cfg,
      `[profiles.gl]\nprovider = "greenlake"\nbase_url = "${p.baseUrl}"\nclient_id = "${p.clientId}"\nclient_secret_env = "GL_SECRET"\n`,
    );
    await chmod(cfg, 0o664);
    const writable = await doctor(["--config", cfg, "--store-dir", join(dir, "s-open")], g.env);
    expect(writable.code).toBe(7);
    expect(writable.one("config").status).toBe("pass");
    expect(writable.one("config_permissions")).toMatchObject({ status: "fail", fix: `chmod 600 ${cfg}`, mode: "0664" });
    await chmod(cfg, 0o600);
    const fine = await doctor(["--config", cfg, "--store-dir", join(dir, "s-open")], g.env);
    expect(fine.code, fine.out).toBe(0);
    expect(fine.report.config).toBe(cfg);
  });

  it("a proxy password written in the profile's proxy is an inline secret: readable by others warns, never shown", async () => {
    const p = plain.providers.greenlake;
    const cfg = join(dir, "proxy-pw.toml");
    await writeFile(
      cfg,
      `[profiles.gl]\nprovider = "greenlake"\nbase_url = "${p.baseUrl}"\nclient_id = "${p.clientId}"\nclient_secret_env = "GL_SECRET"\nproxy = "http://alice:pr0xy-pw@127.0.0.1:1"\n`,
    );
    await chmod(cfg, 0o644);
    const r = await doctor(["--config", cfg, "--store-dir", join(dir, "s-proxy-pw")], {
      GL_SECRET: p.clientSecret ?? "",
    });
    expect(r.one("config_permissions")).toMatchObject({ status: "warn", mode: "0644" });
    expect(r.one("config_permissions").message).toContain("profiles.gl.proxy");
    expect(r.out + r.err).not.toContain("pr0xy-pw");
    // Every other command says so too (the same warning as for an inline client_secret).
    const t = await runCli(bin, ["status", "--config", cfg], {});
    expect(t.err).toContain("profiles.gl.proxy");
    // The advice fits the secret: a proxy password belongs in HTTPS_PROXY, not in client_secret_env.
    expect(t.err).toContain("in HTTPS_PROXY instead");
    expect(t.err).not.toContain("client_secret_env");
    expect(t.out + t.err).not.toContain("pr0xy-pw");
  });

  it("no config file and no profile from flags: the missing file is the failure, with how to make one", async () => {
    const r = await doctor([], {});
    expect(r.code).toBe(7);
    expect(r.one("config")).toMatchObject({ status: "fail" });
    expect(r.one("config").fix).toContain("hpauth profiles add");
  });

  it("an unresolvable secret fails without printing anything secret", async () => {
    const g = gl(plain);
    const r = await doctor(g.args, {});
    expect(r.code).toBe(7);
    expect(r.one("secret_client_secret")).toMatchObject({ status: "fail", source: "env" });
    expect(r.one("secret_client_secret").message).toContain("GL_SECRET");
  });

  it("a proxy that is down: the TCP check fails naming the proxy; NO_PROXY is reported as the way around", async () => {
    const g = gl(plain);
    const down = await doctor(g.args, { ...g.env, HTTP_PROXY: "http://127.0.0.1:1" });
    expect(down.code).toBe(7);
    expect(down.one("identity_route")).toMatchObject({ proxy_from: "HTTP_PROXY" });
    expect(down.one("identity_tcp")).toMatchObject({ status: "fail" });
    expect(down.one("identity_tcp").message).toContain("the proxy 127.0.0.1:1");
    expect(down.one("identity_tcp").fix).toContain("NO_PROXY");
    const bypass = await doctor(g.args, { ...g.env, HTTP_PROXY: "http://127.0.0.1:1", NO_PROXY: "127.0.0.1" });
    expect(bypass.code, bypass.out).toBe(0);
    expect(bypass.one("identity_route").message).toContain('NO_PROXY entry "127.0.0.1"');
  });

  it("a host that does not resolve, and a port nothing listens on: DNS and TCP fail with their fixes", async () => {
    const dns = await doctor(
      gl(plain).args.concat(["--base-url", "https://hpauth-doctor-test.invalid"]),
      gl(plain).env,
    );
    expect(dns.code).toBe(7);
    expect(dns.one("identity_dns")).toMatchObject({ status: "fail", host: "hpauth-doctor-test.invalid" });
    const tcp = await doctor(gl(plain).args.concat(["--base-url", "http://127.0.0.1:1"]), gl(plain).env);
    expect(tcp.code).toBe(7);
    expect(tcp.one("identity_tcp").status).toBe("fail");
    expect(tcp.one("identity_tcp").message).toContain("ECONNREFUSED");
  });

  it("a file store open to others warns with the chmod that fixes it", async () => {
    const g = gl(plain);
    const store = join(dir, "s-open-store");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(store, { mode: 0o755 });
    await chmod(store, 0o755);
    const r = await doctor([...g.args, "--store-dir", store], g.env);
    expect(r.code, r.out).toBe(0);
    expect(r.one("store_permissions")).toMatchObject({
      status: "warn",
      fix: `chmod 700 ${store} && chmod 600 ${store}/*`,
    });
  });

  it("a token store that cannot be reached fails (Redis on a closed port)", async () => {
    const g = gl(plain);
    const r = await doctor([...g.args, "--store", "redis://127.0.0.1:1"], g.env);
    expect(r.code).toBe(7);
    expect(r.one("store")).toMatchObject({ status: "fail" });
  });

  const hasScript = (() => {
    try {
      execFileSync("script", ["--version"], { stdio: "ignore" });
      return process.platform === "linux";
    } catch {
      return false;
    }
  })();

  it.skipIf(!hasScript)("on a terminal: a progress line while checks run, cleared before the report", async () => {
    const g = gl(plain);
    const sh = (x: string) => `'${x.replace(/'/g, "'\\''")}'`;
    const cmd = `exec ${[process.execPath, bin, "doctor", ...g.args].map(sh).join(" ")}`;
    const child = spawn("script", ["-q", "-e", "-c", cmd, "/dev/null"], {
      env: { PATH: process.env.PATH ?? "", TERM: "dumb", HOME: join(dir, "home"), ...g.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(code, out).toBe(0);
    expect(out).toContain("Connecting to 127.0.0.1");
    expect(out).toContain("\r\x1b[2K");
    expect(out).toMatch(/passed, \d+ warnings?, 0 failed/);
  });

  it("token warnings are the ones `status` computes: a TechPulse secret near its 365 days warns", async () => {
    const p = plain.providers.techpulse;
    const created = new Date(Date.now() - 350 * 86_400_000).toISOString().slice(0, 10);
    const args = [
      "--provider",
      "techpulse",
      "--base-url",
      p.baseUrl,
      "--client-id",
      p.clientId ?? "",
      "--client-secret-env",
      "TP_SECRET",
      "--client-secret-created-at",
      created,
      "--store-dir",
      join(dir, "s-tp"),
    ];
    const r = await doctor(args, { TP_SECRET: p.clientSecret ?? "" });
    expect(r.code, r.out).toBe(0);
    const [w] = r.by("token_warning");
    expect(w?.status).toBe("warn");
    expect(w?.message).toContain("client secret");
    // Never logged in, and TechPulse needs a browser for that: the token check says how.
    expect(r.one("token")).toMatchObject({ status: "warn", fix: "hpauth login -p techpulse" });
  });
});
