/**
 * Networks as in companies, through the built CLI as a process: HTTPS_PROXY / HTTP_PROXY / NO_PROXY and the
 * profile's `proxy` (a forward proxy on loopback that logs each CONNECT and request), the TLS emulator's CA given
 * by `ca_file` or NODE_EXTRA_CA_CERTS, and the TLS errors a user meets (unknown CA, another host name, expired).
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { type ForwardProxy, runCli, startForwardProxy } from "./network-helpers.js";
import { privateCli } from "./private-cli.js";

const DAY = 86_400_000;

describe("proxy and TLS in the built CLI", () => {
  let dir: string;
  let bin: string;
  let tls: Emulator;
  let plain: Emulator;
  let proxy: ForwardProxy;
  let n = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hpauth-net-"));
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

  /** A GreenLake profile as flags on `emu`, its secret by environment variable; a fresh store each time. */
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
  const origin = (emu: Emulator) => new URL(emu.providers.greenlake.baseUrl).host;

  it("an unknown CA: exit 5, and the message names the fix (ca_file / NODE_EXTRA_CA_CERTS), without retrying", async () => {
    const g = gl(tls);
    const r = await runCli(bin, ["token", ...g.args], g.env);
    expect(r.code, r.err).toBe(5);
    expect(r.err).toContain("signed by a certificate authority this machine does not trust");
    expect(r.err).toContain("ca_file");
    expect(r.err).toContain("NODE_EXTRA_CA_CERTS");
    expect(r.err).not.toContain("attempts");
    expect(r.out).toBe("");
  });

  it("the CA by ca_file (flag, then config file) or by NODE_EXTRA_CA_CERTS: a token", async () => {
    const byFlag = gl(tls, "--ca-file", tls.caFile ?? "");
    const a = await runCli(bin, ["token", ...byFlag.args], byFlag.env);
    expect(a.code, a.err).toBe(0);
    expect(a.out).toMatch(/^eyJ\S+\n$/);

    const p = tls.providers.greenlake;
    const cfg = join(dir, "tls.toml");
    await writeFile(
      cfg,
      `[profiles.gl]\nprovider = "greenlake"\nbase_url = "${p.baseUrl}"\nclient_id = "${p.clientId}"\nclient_secret_env = "GL_SECRET"\nca_file = "${tls.caFile}"\n`,
      { mode: 0o600 },
    );
    const b = await runCli(bin, ["token", "--config", cfg, "--store-dir", join(dir, "store-cfg")], byFlag.env);
    expect(b.code, b.err).toBe(0);

    const byEnv = gl(tls);
    const c = await runCli(bin, ["token", ...byEnv.args], { ...byEnv.env, NODE_EXTRA_CA_CERTS: tls.caFile ?? "" });
    expect(c.code, c.err).toBe(0);
  });

  it("ca_file adds to NODE_EXTRA_CA_CERTS rather than replacing it", async () => {
    const other = join(dir, "other-ca.pem");
    const { makeTlsMaterial } = await import("../../src/emulator/tls.js");
    await writeFile(other, makeTlsMaterial({ hosts: ["localhost"] }).caPem);
    const g = gl(tls, "--ca-file", other);
    const r = await runCli(bin, ["token", ...g.args], { ...g.env, NODE_EXTRA_CA_CERTS: tls.caFile ?? "" });
    expect(r.code, r.err).toBe(0);
  });

  it("an unreadable ca_file is a configuration error naming ca_file (exit 2)", async () => {
    const g = gl(tls, "--ca-file", join(dir, "missing.pem"));
    const r = await runCli(bin, ["token", ...g.args], g.env);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain("ca_file: cannot read");
  });

  it("HTTPS_PROXY: the request goes through a CONNECT tunnel (the proxy logs it); NO_PROXY sends it direct", async () => {
    proxy.log.length = 0;
    const g = gl(tls, "--ca-file", tls.caFile ?? "");
    const via = await runCli(bin, ["token", ...g.args], { ...g.env, HTTPS_PROXY: proxy.url });
    expect(via.code, via.err).toBe(0);
    expect(proxy.log).toContain(`CONNECT ${origin(tls)}`);

    proxy.log.length = 0;
    const direct = gl(tls, "--ca-file", tls.caFile ?? "");
    for (const noProxy of ["127.0.0.1", `127.0.0.1:${new URL(tls.providers.greenlake.baseUrl).port}`, "*"]) {
      const r = await runCli(bin, ["token", "--force-refresh", ...direct.args], {
        ...direct.env,
        HTTPS_PROXY: proxy.url,
        NO_PROXY: noProxy,
      });
      expect(r.code, `${noProxy}: ${r.err}`).toBe(0);
    }
    expect(proxy.log).toEqual([]);
    // An entry for another port or host does not bypass.
    const r = await runCli(bin, ["token", "--force-refresh", ...direct.args], {
      ...direct.env,
      https_proxy: proxy.url,
      no_proxy: "127.0.0.1:1,example.com",
    });
    expect(r.code, r.err).toBe(0);
    expect(proxy.log).toEqual([`CONNECT ${origin(tls)}`]);
  });

  it("HTTP_PROXY for a plain http:// target: the request in absolute form, no tunnel", async () => {
    proxy.log.length = 0;
    const g = gl(plain);
    const r = await runCli(bin, ["token", ...g.args], { ...g.env, HTTP_PROXY: proxy.url });
    expect(r.code, r.err).toBe(0);
    expect(proxy.log).toEqual([`POST ${plain.providers.greenlake.baseUrl}/as/token.oauth2`]);
  });

  it("the profile's proxy field (config file) wins over HTTPS_PROXY; `request` sends the API call through it too", async () => {
    proxy.log.length = 0;
    const p = tls.providers.greenlake;
    const cfg = join(dir, "proxy.toml");
    await writeFile(
      cfg,
      `[profiles.gl]\nprovider = "greenlake"\nbase_url = "${p.baseUrl}"\nclient_id = "${p.clientId}"\nclient_secret_env = "GL_SECRET"\nca_file = "${tls.caFile}"\nproxy = "${proxy.url}"\n`,
      { mode: 0o600 },
    );
    const store = join(dir, "store-proxy-field");
    const env = { GL_SECRET: p.clientSecret ?? "", HTTPS_PROXY: "http://127.0.0.1:1" };
    const t = await runCli(bin, ["token", "--config", cfg, "--store-dir", store], env);
    expect(t.code, t.err).toBe(0);
    expect(proxy.log).toEqual([`CONNECT ${origin(tls)}`]);
    // The token is cached now: this process's only connection is the API call's.
    proxy.log.length = 0;
    const r = await runCli(bin, ["request", "--config", cfg, "--store-dir", store, "/api/v1/storage-systems"], env);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toBeTypeOf("object");
    expect(proxy.log).toEqual([`CONNECT ${origin(tls)}`]);
    // `hpauth curl`: the system curl gets the proxy and the CA in its config (stdin), not in argv.
    proxy.log.length = 0;
    const c = await runCli(
      bin,
      ["curl", "--config", cfg, "--store-dir", store, "--", "-sS", "/api/v1/storage-systems"],
      env,
    );
    expect(c.code, c.err).toBe(0);
    expect(JSON.parse(c.out)).toBeTypeOf("object");
    expect(proxy.log).toEqual([`CONNECT ${origin(tls)}`]);
  });

  it("a proxy that is down: exit 5, the message names the proxy and the variable it came from", async () => {
    const g = gl(tls, "--ca-file", tls.caFile ?? "");
    const r = await runCli(bin, ["token", ...g.args], { ...g.env, HTTPS_PROXY: "http://127.0.0.1:1" });
    expect(r.code, r.err).toBe(5);
    expect(r.err).toContain("cannot connect to the proxy http://127.0.0.1:1 (HTTPS_PROXY)");
    expect(r.err).toContain("NO_PROXY");
  });

  it("a proxy wanting credentials: 407 is explained; credentials in the proxy URL work and are never printed", async () => {
    const locked = await startForwardProxy({ credentials: "alice:s3cret-proxy-pw" });
    try {
      const g = gl(tls, "--ca-file", tls.caFile ?? "");
      const refused = await runCli(bin, ["token", ...g.args], { ...g.env, HTTPS_PROXY: locked.url });
      expect(refused.code, refused.err).toBe(5);
      expect(refused.err).toContain("refused to open a tunnel");
      expect(refused.err).toContain("HTTP 407");
      expect(refused.err).toContain("The proxy wants credentials: put them in its URL in HTTPS_PROXY");
      const withCreds = locked.url.replace("http://", "http://alice:s3cret-proxy-pw@");
      const ok = await runCli(bin, ["token", "--json", ...g.args], { ...g.env, HTTPS_PROXY: withCreds });
      expect(ok.code, ok.err).toBe(0);
      // A failing one with credentials: the message shows the proxy without its password.
      const down = await runCli(bin, ["token", ...gl(tls).args], {
        ...g.env,
        HTTPS_PROXY: "http://alice:s3cret-proxy-pw@127.0.0.1:1",
      });
      expect(down.code).toBe(5);
      for (const r of [refused, ok, down]) expect(r.out + r.err).not.toContain("s3cret-proxy-pw");
    } finally {
      await locked.close();
    }
  });

  it("a certificate for another host name, and an expired one: each explained (exit 5)", async () => {
    const wrong = await startEmulator({ tls: { hosts: ["localhost"] } });
    const expired = await startEmulator({
      tls: { notBefore: new Date(Date.now() - 2 * DAY), notAfter: new Date(Date.now() - DAY) },
    });
    try {
      const w = gl(wrong, "--ca-file", wrong.caFile ?? "");
      const r1 = await runCli(bin, ["token", ...w.args], w.env);
      expect(r1.code, r1.err).toBe(5);
      expect(r1.err).toContain("is not valid for the name 127.0.0.1");
      expect(r1.err).toContain("base_url");
      // The same server by the name its certificate has: fine.
      const byName = gl(wrong, "--ca-file", wrong.caFile ?? "");
      byName.args[3] = wrong.providers.greenlake.baseUrl.replace("127.0.0.1", "localhost");
      const r2 = await runCli(bin, ["token", ...byName.args], byName.env);
      expect(r2.code, r2.err).toBe(0);

      const e = gl(expired, "--ca-file", expired.caFile ?? "");
      const r3 = await runCli(bin, ["token", ...e.args], e.env);
      expect(r3.code, r3.err).toBe(5);
      expect(r3.err).toContain("has expired");
      expect(r3.err).toContain("clock");
    } finally {
      await Promise.all([wrong.close(), expired.close()]);
    }
  });

  it("`hpauth emulate --tls --json`: https base URLs and the CA file in the ready line; the file goes with it", async () => {
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, [bin, "emulate", "--tls", "--json"], { stdio: ["ignore", "pipe", "pipe"] });
    const line = await new Promise<string>((resolve, reject) => {
      let buf = "";
      child.stdout.on("data", (c) => {
        buf += c;
        if (buf.includes("\n")) resolve(buf.split("\n")[0] ?? "");
      });
      child.on("exit", (code) => reject(new Error(`emulate exited ${code}`)));
    });
    const ready = JSON.parse(line) as { providers: Record<string, { baseUrl: string }>; caFile: string };
    for (const p of Object.values(ready.providers)) expect(p.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await readFile(ready.caFile, "utf8")).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const gone = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    await gone;
    expect(existsSync(ready.caFile)).toBe(false);
  });
  it("`hpauth proxy` forwards API calls through the profile's own network: its `proxy` and `ca_file`", async () => {
    const { spawn } = await import("node:child_process");
    proxy.log.length = 0;
    const g = gl(tls, "--ca-file", tls.caFile ?? "", "--proxy", proxy.url);
    const child = spawn(process.execPath, [bin, "proxy", "--json", ...g.args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "", HOME: dir, ...g.env },
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = "";
        let err = "";
        child.stdout.on("data", (c) => {
          buf += c;
          if (buf.includes("\n")) resolve(buf.split("\n")[0] ?? "");
        });
        child.stderr.on("data", (c) => {
          err += c;
        });
        child.on("exit", (code) => reject(new Error(`proxy exited ${code}: ${err}`)));
      });
      const ready = JSON.parse(line) as { proxies: Record<string, { url: string }> };
      const url = Object.values(ready.proxies)[0]?.url ?? "";
      const res = await fetch(`${url}/api/v1/storage-systems`);
      expect(res.status, await res.text()).toBe(200);
      // A 200 means the forwarded call trusted the ca_file (the proxy's default dispatcher knows no such CA); it
      // and the token request went through the profile's proxy (one tunnel may carry both: one dispatcher).
      expect(proxy.log.length).toBeGreaterThan(0);
      expect(proxy.log.every((l) => l === `CONNECT ${origin(tls)}`)).toBe(true);
    } finally {
      const gone = new Promise((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      await gone;
    }
  });
});
