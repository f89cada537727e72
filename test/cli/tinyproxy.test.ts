/**
 * A real forward proxy (Debian's tinyproxy, scripts/system-deps.sh) between the built CLI and the TLS emulator:
 * `hpauth token` and `hpauth doctor` through HTTPS_PROXY, the CONNECT in tinyproxy's own log, NO_PROXY around it.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { runCli } from "./network-helpers.js";
import { privateCli } from "./private-cli.js";

const hasTinyproxy = (() => {
  try {
    execFileSync("tinyproxy", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** A port free right now (tinyproxy takes its port from its config file, not from the OS). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1", () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

/** A tinyproxy with `extra` config lines, on a free port; its URL and process. */
async function startTinyproxy(dir: string, name: string, extra: string): Promise<{ url: string; child: ChildProcess }> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const conf = join(dir, `${name}-${attempt}.conf`);
    await writeFile(conf, `Port ${port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 20\n${extra}`);
    const child = spawn("tinyproxy", ["-d", "-c", conf], { stdio: "ignore" });
    for (let i = 0; i < 50; i++) {
      if (await listening(port)) return { url: `http://127.0.0.1:${port}`, child };
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill();
  }
  throw new Error("tinyproxy did not start");
}

describe.skipIf(!hasTinyproxy)("through tinyproxy", () => {
  let dir: string;
  let bin: string;
  let tls: Emulator;
  let proxy: ChildProcess | undefined;
  let proxyUrl = "";
  let logFile = "";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hpauth-tinyproxy-"));
    [bin, tls] = await Promise.all([privateCli(dir), startEmulator({ tls: true })]);
    logFile = join(dir, "tinyproxy.log");
    for (let attempt = 1; attempt <= 3 && !proxyUrl; attempt++) {
      const port = await freePort();
      const conf = join(dir, `tinyproxy-${attempt}.conf`);
      await writeFile(
        conf,
        `Port ${port}\nListen 127.0.0.1\nTimeout 30\nLogLevel Connect\nLogFile "${logFile}"\nAllow 127.0.0.1\nMaxClients 20\n`,
      );
      proxy = spawn("tinyproxy", ["-d", "-c", conf], { stdio: "ignore" });
      for (let i = 0; i < 50 && !proxyUrl; i++) {
        if (await listening(port)) proxyUrl = `http://127.0.0.1:${port}`;
        else await new Promise((r) => setTimeout(r, 100));
      }
      if (!proxyUrl) proxy.kill();
    }
    if (!proxyUrl) throw new Error("tinyproxy did not start");
  }, 120_000);
  afterAll(async () => {
    proxy?.kill();
    await tls?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const gl = () => {
    const p = tls.providers.greenlake;
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
        "--ca-file",
        tls.caFile ?? "",
        "--store",
        "memory",
      ],
      env: { GL_SECRET: p.clientSecret ?? "" },
    };
  };
  const connects = async () =>
    (await readFile(logFile, "utf8").catch(() => ""))
      .split("\n")
      .filter((l) => l.includes(`CONNECT ${new URL(tls.providers.greenlake.baseUrl).host}`)).length;

  it("token and doctor through HTTPS_PROXY: tinyproxy logs the tunnels; NO_PROXY goes around it", async () => {
    const before = await connects();
    const t = await runCli(bin, ["token", ...gl().args], { ...gl().env, HTTPS_PROXY: proxyUrl });
    expect(t.code, t.err).toBe(0);
    expect(t.out).toMatch(/^eyJ\S+\n$/);
    expect(await connects()).toBe(before + 1);

    const d = await runCli(bin, ["doctor", "--json", ...gl().args], { ...gl().env, HTTPS_PROXY: proxyUrl });
    expect(d.code, d.out).toBe(0);
    const report = JSON.parse(d.out) as { checks: Array<{ id: string; status: string; proxy?: string }> };
    expect(report.checks.find((c) => c.id === "identity_route")?.proxy).toBe(proxyUrl);
    expect(report.checks.find((c) => c.id === "identity_tls")?.status).toBe("pass");
    expect(await connects()).toBe(before + 2);

    const direct = await runCli(bin, ["token", ...gl().args], {
      ...gl().env,
      HTTPS_PROXY: proxyUrl,
      NO_PROXY: "127.0.0.1",
    });
    expect(direct.code, direct.err).toBe(0);
    expect(await connects()).toBe(before + 2);
  });

  it("wrong proxy credentials (tinyproxy BasicAuth answers the CONNECT 401): not retried, the credentials hint", async () => {
    const locked = await startTinyproxy(dir, "auth", "BasicAuth alice right-pw\n");
    try {
      const wrong = locked.url.replace("http://", "http://alice:wrong-pw@");
      const t = await runCli(bin, ["token", ...gl().args], { ...gl().env, HTTPS_PROXY: wrong });
      expect(t.code, t.err).toBe(5);
      expect(t.err).toContain("refused to open a tunnel");
      expect(t.err).toContain("HTTP 401");
      expect(t.err).toContain("The proxy wants credentials");
      expect(t.err).not.toContain("gave up after");
      expect(t.out + t.err).not.toContain("wrong-pw");
      const ok = await runCli(bin, ["token", ...gl().args], {
        ...gl().env,
        HTTPS_PROXY: locked.url.replace("http://", "http://alice:right-pw@"),
      });
      expect(ok.code, ok.err).toBe(0);
    } finally {
      locked.child.kill();
    }
  });
});
