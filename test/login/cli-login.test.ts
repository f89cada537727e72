/**
 * `runLogin` against the emulator: importing an Aruba Central token pair (file and stdin) that then lives by
 * refresh alone, a forced grant for a non-interactive provider, paste-back of a TechPulse login whose redirect
 * never loads in the (remote) browser, and bad input. Tokens never reach stdout or stderr.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommandIO } from "../../src/cli/io.js";
import { chromiumAvailable, launchChromium } from "./chromium.js";
import { until } from "./helpers.js";

interface Emu {
  providers: Record<
    string,
    {
      baseUrl: string;
      clientId?: string;
      clientSecret?: string;
      username?: string;
      password?: string;
      customerId?: string;
    }
  >;
  admin: {
    counters(): Promise<Record<string, { logins: number; codes: number; refreshes: number; tokensIssued: number }>>;
    advanceClock(seconds: number): Promise<unknown>;
  };
  close(): Promise<void>;
}

function cliIO(env: Record<string, string>, stdinText?: string) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c) => {
    out += c;
  });
  stderr.on("data", (c) => {
    err += c;
  });
  if (stdinText !== undefined) stdin.end(stdinText);
  const io: CommandIO = {
    stdout,
    stderr,
    stdin,
    stdinIsTTY: false,
    stderrIsTTY: false,
    env,
    signal: new AbortController().signal,
  };
  return { io, stdin, out: () => out, err: () => err };
}

const base = { json: false, verbose: false, quiet: false, color: false };

describe("hpauth login (runLogin) against the emulator", () => {
  let emu: Emu;
  let dir: string;
  let n = 0;
  let runLogin: typeof import("../../src/cli/commands/login.js").runLogin;

  beforeAll(async () => {
    const { startEmulator } = await import("../../src/emulator/index.js");
    emu = (await startEmulator()) as unknown as Emu;
    dir = await mkdtemp(join(tmpdir(), "hpauth-login-cli-"));
    ({ runLogin } = await import("../../src/cli/commands/login.js"));
  });
  afterAll(async () => {
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const env = () => ({
    ARUBA_SECRET: emu.providers["aruba-central"]!.clientSecret!,
    ARUBA_PASSWORD: emu.providers["aruba-central"]!.password!,
    GL_SECRET: emu.providers.greenlake!.clientSecret!,
    TP_SECRET: emu.providers.techpulse!.clientSecret!,
    XDG_CONFIG_HOME: join(dir, "no-config"),
    PATH: process.env.PATH ?? "",
  });
  const aruba = (sso: boolean) => {
    const a = emu.providers["aruba-central"]!;
    return {
      provider: "aruba-central",
      baseUrl: a.baseUrl,
      clientId: a.clientId,
      clientSecretEnv: "ARUBA_SECRET",
      ...(sso ? {} : { username: a.username, passwordEnv: "ARUBA_PASSWORD", customerId: a.customerId }),
    };
  };

  it("imports Aruba's downloaded token JSON from a file and keeps it alive by refresh alone", async () => {
    const { createTokenManager } = await import("../../src/engine/index.js");
    const { MemoryTokenStore } = await import("../../src/stores/memory.js");
    const { FileTokenStore } = await import("../../src/stores/file.js");
    // A pair "created in the Central UI": a password login in a store of its own.
    const uiStore = new MemoryTokenStore();
    const ui = createTokenManager({
      profile: { name: "ui", ...aruba(false) } as never,
      store: uiStore,
      runtime: { env: env() },
    });
    await ui.getToken();
    const rec = (await uiStore.get(ui.key))!;
    const file = join(dir, "token.json");
    await writeFile(
      file,
      JSON.stringify({
        access_token: rec.accessToken,
        appname: "nms",
        created_at: Date.now() - 60_000,
        expires_in: 7200,
        refresh_token: rec.refreshToken,
        scope: "all",
        token_type: "bearer",
      }),
      { mode: 0o600 },
    );
    const storeDir = join(dir, `s${++n}`);
    const c = cliIO(env());
    const code = await runLogin({ ...base, storeDir, import: file, fields: aruba(true) }, c.io);
    expect(code).toBe(0);
    expect(c.err()).toMatch(/Imported tokens.*aruba-central.*valid until/);
    for (const t of [rec.accessToken!, rec.refreshToken!]) {
      expect(c.err()).not.toContain(t);
      expect(c.out()).not.toContain(t);
    }
    // Two hours later the access token has expired: the SSO profile (no username, no password) lives by refresh.
    await emu.admin.advanceClock(7300);
    const before = (await emu.admin.counters())["aruba-central"]!;
    const sso = createTokenManager({
      profile: { name: "sso", ...aruba(true) } as never,
      store: new FileTokenStore({ dir: storeDir }),
      runtime: { env: env(), now: () => Date.now() + 7300_000 },
    });
    const t = await sso.getToken();
    expect(t.source).toBe("refresh");
    const after = (await emu.admin.counters())["aruba-central"]!;
    expect(after.refreshes - before.refreshes).toBe(1);
    expect(after.logins - before.logins).toBe(0);
  });

  it("imports from stdin (camelCase), and rejects bad input without echoing it", async () => {
    const c = cliIO(env(), '{"accessToken": "SECRET-AT-123"}');
    const err = await runLogin(
      { ...base, storeDir: join(dir, `s${++n}`), import: "-", fields: aruba(true) },
      c.io,
    ).catch((e) => e);
    expect(err.code).toBe("USAGE");
    expect(`${err.message} ${err.hint}`).not.toContain("SECRET-AT-123");
    const bad = cliIO(env());
    const missing = await runLogin(
      { ...base, storeDir: join(dir, `s${++n}`), import: join(dir, "nope.json"), fields: aruba(true) },
      bad.io,
    ).catch((e) => e);
    expect(missing.code).toBe("USAGE");
  });

  it("a non-interactive provider: forces a new grant and reports expiry, never the token", async () => {
    const g = emu.providers.greenlake!;
    const storeDir = join(dir, `s${++n}`);
    const fields = { provider: "greenlake", baseUrl: g.baseUrl, clientId: g.clientId, clientSecretEnv: "GL_SECRET" };
    const before = (await emu.admin.counters()).greenlake!;
    for (let i = 0; i < 2; i++) {
      const c = cliIO(env());
      expect(await runLogin({ ...base, json: true, storeDir, fields }, c.io)).toBe(0);
      const line = JSON.parse(c.out());
      expect(line).toMatchObject({ ok: true, provider: "greenlake", source: "login", token_type: "Bearer" });
      expect(line.expires_in).toBeGreaterThan(3000);
      expect(line).not.toHaveProperty("access_token");
      expect(c.err()).toContain("New grant obtained");
    }
    expect((await emu.admin.counters()).greenlake!.tokensIssued - before.tokensIssued).toBe(2);
  });

  describe.skipIf(!chromiumAvailable)("paste-back with a remote browser", () => {
    let browser: Browser;
    // biome-ignore lint/suspicious/noDuplicateTestHooks: these belong to this nested describe.skipIf block, which biome does not recognise as a describe
    beforeAll(async () => {
      browser = await launchChromium();
    });
    // biome-ignore lint/suspicious/noDuplicateTestHooks: as above
    afterAll(async () => {
      await browser?.close();
    });

    it("--no-browser: the URL on stderr, the redirected address pasted on stdin, state checked", async () => {
      const t = emu.providers.techpulse!;
      const c = cliIO({ ...env(), DISPLAY: ":0" });
      const storeDir = join(dir, `s${++n}`);
      const run = runLogin(
        {
          ...base,
          json: true,
          browser: false,
          storeDir,
          timeout: 30,
          fields: { provider: "techpulse", baseUrl: t.baseUrl, clientId: t.clientId, clientSecretEnv: "TP_SECRET" },
        },
        c.io,
      );
      await until(() => c.err().includes("Paste the address"), 15_000);
      const url = /(http:\/\/127\.0\.0\.1:\d+\/oauth\/v1\/authorize\?\S+)/.exec(c.err())![1]!;
      // The browser is on another machine: the redirect to this machine's loopback never loads there.
      const context = await browser.newContext();
      let landed = "";
      // (Playwright does not route the redirected request itself, so the consent POST is fetched here and its
      // Location kept, as a person copies it from the address bar of a page that failed to load.)
      await context.route(/\/oauth\/v1\/authorize\/consent$/, async (route) => {
        const resp = await route.fetch({ maxRedirects: 0 });
        const location = resp.headers().location ?? "";
        if (/^http:\/\/127\.0\.0\.1:\d+\/callback/.test(location)) {
          landed = location;
          return route.fulfill({ status: 200, contentType: "text/plain", body: "This site can't be reached" });
        }
        return route.fulfill({ response: resp });
      });
      const page = await context.newPage();
      await page.goto(url);
      await page.fill('input[name="username"]', t.username!);
      await page.fill('input[name="password"]', t.password!);
      await page.click('button[type="submit"]');
      await page.click('button[name="decision"][value="allow"]');
      await until(() => landed !== "", 15_000);
      await context.close();
      const pasted = new URL(landed);
      const forged = new URL(landed);
      forged.searchParams.set("state", "x".repeat(43));
      c.stdin.write(`${forged.href}\n`);
      c.stdin.write(`${pasted.searchParams.get("code")}\n`);
      c.stdin.write(`${pasted.href}\n`);
      expect(await run).toBe(0);
      expect(c.err()).toContain("does not belong to this login");
      expect(c.err()).toContain("A code alone cannot be checked");
      expect(c.err()).not.toContain(pasted.searchParams.get("code")!);
      expect(JSON.parse(c.out())).toMatchObject({ ok: true, provider: "techpulse", source: "login" });
    });
  });
});
