/** `hpauth emulate` as a command: captured IO, the ready line, config pinning, verbose without secrets, clean stop. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runEmulate } from "../../src/cli/commands/emulate.js";
import type { CommandIO } from "../../src/cli/io.js";

function captured() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => (out += d));
  stderr.on("data", (d) => (err += d));
  const controller = new AbortController();
  const io: CommandIO = {
    stdout,
    stderr,
    stdin: new PassThrough(),
    stdinIsTTY: false,
    stderrIsTTY: false,
    env: {},
    signal: controller.signal,
  };
  return { io, controller, out: () => out, err: () => err };
}

async function until(cond: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Six consecutive free ports, found by asking the OS for one and probing the five after it. */
async function freeBlock(): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    let ok = true;
    for (let i = 0; i < 7 && ok; i++) ok = await tryListen(base + i);
    if (ok) return base;
  }
  throw new Error("no free port block");
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hpauth-emulate-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("runEmulate", () => {
  it("--json prints one ready line, serves, and exits 0 on abort", async () => {
    const c = captured();
    const done = runEmulate({ json: true }, c.io);
    await until(() => c.out().includes("\n"));
    const lines = c.out().trim().split("\n");
    expect(lines.length).toBe(1);
    const ready = JSON.parse(lines[0]!) as { providers: Record<string, Record<string, string>>; adminUrl: string };
    expect(Object.keys(ready)).toEqual(["providers", "adminUrl"]);
    expect(Object.keys(ready.providers)).toEqual([
      "techpulse",
      "wxp",
      "greenlake",
      "aruba-central",
      "hpe-identity",
      "greenlake-platform",
    ]);
    expect(ready.providers.techpulse).toMatchObject({ redirectUri: "http://localhost" });
    for (const k of ["clientId", "clientSecret", "username", "password", "customerId"])
      expect(ready.providers["aruba-central"]).toHaveProperty(k);
    const gl = ready.providers.greenlake!;
    const res = await fetch(`${gl.baseUrl}/as/token.oauth2`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: gl.clientId!,
        client_secret: gl.clientSecret!,
      }),
    });
    expect(res.status).toBe(200);
    c.controller.abort();
    expect(await done).toBe(0);
    await expect(fetch(`${ready.adminUrl}/clock`)).rejects.toThrow();
  });

  it("a TOML config (emulator table) pins credentials, port and quirks; --verbose logs without secrets", async () => {
    const port = await freeBlock();
    const file = join(dir, "config.toml");
    await writeFile(
      file,
      `default_profile = "x"\n[emulator]\nport = ${port}\ntechpulseExpiresInMillis = true\n[emulator.credentials.greenlake]\nclientId = "ci-client"\nclientSecret = "ci-secret-value-123"\n[emulator.lifetimes.greenlake]\naccessSeconds = 900\n[emulator.credentials.greenlake-platform]\nworkspaceId = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"\ntenantWorkspaceIds = ["11111111222233334444555555555555"]\n`,
    );
    const c = captured();
    const done = runEmulate({ json: true, config: file, verbose: true }, c.io);
    await until(() => c.out().includes("\n"));
    const ready = JSON.parse(c.out()) as { providers: Record<string, Record<string, string>>; adminUrl: string };
    expect(ready.adminUrl).toBe(`http://127.0.0.1:${port}`);
    expect(ready.providers.techpulse!.baseUrl).toBe(`http://127.0.0.1:${port + 1}`);
    expect(ready.providers["hpe-identity"]!.baseUrl).toBe(`http://127.0.0.1:${port + 5}`);
    expect(ready.providers["greenlake-platform"]).toMatchObject({
      baseUrl: `http://127.0.0.1:${port + 6}`,
      workspaceId: "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    });
    expect(ready.providers["greenlake-platform"]).not.toHaveProperty("tenantWorkspaceIds");
    expect(ready.providers.greenlake).toMatchObject({ clientId: "ci-client", clientSecret: "ci-secret-value-123" });
    const res = await fetch(`${ready.providers.greenlake!.baseUrl}/as/token.oauth2`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials&client_id=ci-client&client_secret=ci-secret-value-123",
    });
    const t = (await res.json()) as { expires_in: number; access_token: string };
    expect(t.expires_in).toBe(900);
    const ar = ready.providers["aruba-central"]!;
    await fetch(
      `${ar.baseUrl}/oauth2/token?client_id=${ar.clientId}&client_secret=${ar.clientSecret}&grant_type=refresh_token&refresh_token=abc`,
      { method: "POST" },
    );
    c.controller.abort();
    expect(await done).toBe(0);
    const log = c.err();
    expect(log).toContain("greenlake POST /as/token.oauth2 → 200");
    expect(log).toContain("aruba-central POST /oauth2/token → 400 (refresh_unknown)");
    for (const secret of ["ci-secret-value-123", t.access_token, ar.clientSecret!, "refresh_token=abc"])
      expect(log).not.toContain(secret);
  });

  it("the table (no --json) lists origins but no secrets; stdout only", async () => {
    const c = captured();
    const done = runEmulate({}, c.io);
    await until(() => c.out().includes("Ctrl-C"));
    c.controller.abort();
    expect(await done).toBe(0);
    expect(c.out()).toMatch(/techpulse\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(c.out()).toContain("Admin API: http://127.0.0.1:");
    expect(c.out()).not.toMatch(/&\+=%/); // demo passwords end so
  });

  it("bad config and a busy port are usage errors", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(bad, JSON.stringify({ credentials: { nope: {} } }));
    await expect(runEmulate({ config: bad }, captured().io)).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    await expect(runEmulate({ config: join(dir, "missing.json") }, captured().io)).rejects.toMatchObject({
      code: "CONFIG_INVALID",
    });
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(runEmulate({ port }, captured().io)).rejects.toMatchObject({ code: "USAGE" });
    } finally {
      blocker.close();
    }
  });
});
