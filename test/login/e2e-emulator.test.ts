/**
 * The whole interactive login in headless Chromium against the emulator's TechPulse: the login opens the
 * emulator's page (through BROWSER, like a user's system), the browser signs in and consents, the authorizer gets
 * the code, the engine exchanges it and ends with a token in a FileTokenStore. Also: a remembered session skips the
 * screens, Deny → ACCESS_DENIED, a forged callback gets 401 while the real login completes, the timeout, and
 * several logins at once open one authorization request.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CommandIO } from "../../src/cli/io.js";
import { createLoopbackAuthorizer } from "../../src/engine/login/authorizer.js";
import type { NamedProfile } from "../../src/engine/types.js";
import { chromiumAvailable, launchChromium } from "./chromium.js";
import { callbackUrl, stateOf, until } from "./helpers.js";

type Decision = "allow" | "deny" | "none";

interface Emu {
  providers: Record<
    string,
    { baseUrl: string; clientId?: string; clientSecret?: string; username?: string; password?: string }
  >;
  adminUrl: string;
  admin: {
    counters(): Promise<Record<string, { logins: number; codes: number; tokensIssued: number }>>;
    reset(): Promise<void>;
  };
  close(): Promise<void>;
}

describe.skipIf(!chromiumAvailable)("browser login against the emulator (headless Chromium)", () => {
  let emu: Emu;
  let browser: Browser;
  let dir: string;
  let control: Server;
  let browserCmd: string;
  /** What the "system browser" did: one entry per URL it was asked to open. */
  let opened: { url: string; done: Promise<void> }[] = [];
  let context: BrowserContext;
  let decision: Decision = "allow";
  let n = 0;

  async function engine() {
    const { createTokenManager } = await import("../../src/engine/index.js");
    const { FileTokenStore } = await import("../../src/stores/file.js");
    return { createTokenManager, FileTokenStore };
  }

  const tp = () => emu.providers.techpulse!;
  const profile = (): NamedProfile => ({
    name: "tp",
    provider: "techpulse",
    baseUrl: tp().baseUrl,
    clientId: tp().clientId!,
    clientSecretEnv: "TP_SECRET",
  });
  const runtimeEnv = () => ({ TP_SECRET: tp().clientSecret! });

  /** The person at the browser: signs in, then allows or denies, until our page says how it ended. */
  async function person(page: Page, url: string): Promise<void> {
    await page.goto(url);
    for (let step = 0; step < 4; step++) {
      const ours = page.locator("p.small", { hasText: "hpauth login" });
      const login = page.locator('input[name="username"]');
      const consent = page.locator('button[name="decision"]');
      await ours.or(login).or(consent.first()).first().waitFor({ timeout: 15_000 });
      if (await ours.count()) return;
      if (await login.count()) {
        await login.fill(tp().username!);
        await page.fill('input[name="password"]', tp().password!);
        await page.click('button[type="submit"]');
      } else if (decision === "none") {
        return;
      } else {
        await page.click(`button[name="decision"][value="${decision}"]`);
      }
    }
  }

  /** BROWSER-style hook in-process. */
  const openBrowser = async (url: string) => {
    const page = await context.newPage();
    opened.push({ url, done: person(page, url) });
    await until(() => page.url() !== "about:blank", 10_000).catch(() => {});
  };

  beforeAll(async () => {
    const { startEmulator } = await import("../../src/emulator/index.js");
    emu = (await startEmulator()) as unknown as Emu;
    browser = await launchChromium();
    dir = await mkdtemp(join(tmpdir(), "hpauth-login-e2e-"));
    // A BROWSER command for the CLI path: hands the URL to this test, which opens it in Chromium.
    control = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        void openBrowser(body);
        res.end("ok");
      });
    });
    await new Promise<void>((r) => control.listen(0, "127.0.0.1", r));
    const script = join(dir, "open-browser.mjs");
    await writeFile(
      script,
      `await fetch(process.env.HPAUTH_TEST_BROWSER_CONTROL, { method: "POST", body: process.argv[2] });\n`,
    );
    browserCmd = `${process.execPath} ${script}`;
  });
  afterAll(async () => {
    await browser?.close();
    await emu?.close();
    await new Promise((r) => (control ? control.close(r) : r(undefined)));
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.allSettled(opened.map((o) => o.done));
    opened = [];
    await context?.close();
    decision = "allow";
  });

  async function freshContext(): Promise<void> {
    context = await browser.newContext();
  }

  async function manager(storeDir: string, authorizerOptions: Parameters<typeof createLoopbackAuthorizer>[0] = {}) {
    const { createTokenManager, FileTokenStore } = await engine();
    const store = new FileTokenStore({ dir: storeDir });
    const authorizer = createLoopbackAuthorizer({
      env: { DISPLAY: ":0" },
      platform: "linux",
      openBrowser,
      timeoutMs: 20_000,
      ...authorizerOptions,
    });
    return createTokenManager({ profile: profile(), store, runtime: { env: runtimeEnv() }, authorizer });
  }

  it("signs in and consents in the browser; the engine ends with a token; a remembered session skips the screens", async () => {
    await freshContext();
    const before = (await emu.admin.counters()).techpulse!;
    const m = await manager(join(dir, `s${++n}`));
    const token = await m.login();
    expect(token.source).toBe("login");
    expect(token.accessToken.length).toBeGreaterThan(10);
    expect(opened).toHaveLength(1);
    await opened[0]!.done;
    const after = (await emu.admin.counters()).techpulse!;
    expect(after.logins - before.logins).toBe(1);
    expect(after.codes - before.codes).toBe(1);
    expect(after.tokensIssued - before.tokensIssued).toBe(1);
    // The same redirect_uri went to the browser and (the emulator checks) to the code exchange.
    expect(new URL(opened[0]!.url).searchParams.get("redirect_uri")).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);

    // Second login, same browser: the emulator's session cookie skips login and consent.
    const again = await m.login();
    expect(again.accessToken).not.toBe(token.accessToken);
    const last = (await emu.admin.counters()).techpulse!;
    expect(last.logins - after.logins).toBe(0);
    expect(last.codes - after.codes).toBe(1);
  });

  it("a registered redirect URI (http://localhost:PORT/callback) is listened on and sent verbatim", async () => {
    await freshContext();
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const { createTokenManager, FileTokenStore } = await engine();
    const redirectUri = `http://localhost:${port}/callback`;
    const m = createTokenManager({
      profile: { ...profile(), redirectUri },
      store: new FileTokenStore({ dir: join(dir, `s${++n}`) }),
      runtime: { env: runtimeEnv() },
      authorizer: createLoopbackAuthorizer({
        env: { DISPLAY: ":0" },
        platform: "linux",
        openBrowser,
        timeoutMs: 20_000,
      }),
    });
    const token = await m.login();
    expect(token.source).toBe("login");
    expect(new URL(opened[0]!.url).searchParams.get("redirect_uri")).toBe(redirectUri);
    await opened[0]!.done;
    expect(context.pages().at(-1)!.url()).toMatch(new RegExp(`^http://localhost:${port}/callback\\?`));
  });

  it("the demo registration http://localhost (no port) listens on an ephemeral port and sends http://localhost:PORT/", async () => {
    await freshContext();
    const { createTokenManager, FileTokenStore } = await engine();
    const registered = (emu.providers.techpulse as { redirectUri?: string }).redirectUri;
    expect(registered).toBe("http://localhost");
    const m = createTokenManager({
      profile: { ...profile(), redirectUri: registered! },
      store: new FileTokenStore({ dir: join(dir, `s${++n}`) }),
      runtime: { env: runtimeEnv() },
      authorizer: createLoopbackAuthorizer({
        env: { DISPLAY: ":0" },
        platform: "linux",
        openBrowser,
        timeoutMs: 20_000,
      }),
    });
    const token = await m.login();
    expect(token.source).toBe("login");
    const sent = new URL(opened[0]!.url).searchParams.get("redirect_uri")!;
    expect(sent).toMatch(/^http:\/\/localhost:\d+\/$/);
    expect(Number(new URL(sent).port)).not.toBe(80);
  });

  it("consent denied → ACCESS_DENIED, said in the browser and the error", async () => {
    await freshContext();
    decision = "deny";
    const m = await manager(join(dir, `s${++n}`));
    const err = await m.login().catch((e) => e);
    expect(err.code).toBe("ACCESS_DENIED");
    expect(err.message).toMatch(/denied/i);
    await opened[0]!.done;
    const page = context.pages().at(-1)!;
    expect(await page.textContent("h1")).toBe("Login failed");
    expect(await page.textContent("body")).toContain("Access was denied");
  });

  it("a forged callback with a wrong state gets 401 while the real login completes", async () => {
    await freshContext();
    const statuses: number[] = [];
    const m = await manager(join(dir, `s${++n}`), {
      openBrowser: async (url) => {
        // Another tab (an attacker's page, a stale link) hits the listener first.
        const evil = await context.newPage();
        const r = await evil.goto(callbackUrl(url, { code: "attacker-code", state: "not-the-state" }));
        statuses.push(r!.status());
        const r2 = await evil.goto(callbackUrl(url, { code: "attacker-code" }));
        statuses.push(r2!.status());
        await openBrowser(url);
      },
    });
    const token = await m.login();
    expect(token.source).toBe("login");
    expect(statuses).toEqual([401, 401]);
  });

  it("times out with a clear message when nobody finishes in the browser", async () => {
    await freshContext();
    decision = "none";
    const m = await manager(join(dir, `s${++n}`), { timeoutMs: 1500 });
    const err = await m.login().catch((e) => e);
    expect(err.code).toBe("TIMEOUT");
    expect(err.message).toContain("No login response arrived within 1.5s");
    // The listener is gone: the callback no longer answers.
    const url = opened[0]!.url;
    await expect(fetch(callbackUrl(url, { code: "late", state: stateOf(url) }))).rejects.toThrow();
  });

  it("N token managers on one file store needing the login at once: one browser tab, one code", async () => {
    await freshContext();
    const storeDir = join(dir, `s${++n}`);
    const managers = await Promise.all([1, 2, 3, 4].map(() => manager(storeDir)));
    const before = (await emu.admin.counters()).techpulse!;
    const tokens = await Promise.all(managers.map((m) => m.getToken()));
    const after = (await emu.admin.counters()).techpulse!;
    expect(opened).toHaveLength(1);
    expect(after.codes - before.codes).toBe(1);
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(tokens.filter((t) => t.source === "login")).toHaveLength(1);
  });

  function cliIO(env: Record<string, string>): { io: CommandIO; err: () => string; out: () => string } {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = "";
    let err = "";
    stdout.on("data", (c) => {
      out += c;
    });
    stderr.on("data", (c) => {
      err += c;
    });
    const stdin = new PassThrough();
    return {
      io: { stdout, stderr, stdin, stdinIsTTY: false, stderrIsTTY: false, env, signal: new AbortController().signal },
      out: () => out,
      err: () => err,
    };
  }

  it("`hpauth login` ×3 at once through BROWSER: one tab, one code, the others wait for its result", async () => {
    await freshContext();
    const { runLogin } = await import("../../src/cli/commands/login.js");
    const storeDir = join(dir, `s${++n}`);
    const env = {
      ...runtimeEnv(),
      DISPLAY: ":0",
      BROWSER: browserCmd,
      HPAUTH_TEST_BROWSER_CONTROL: `http://127.0.0.1:${(control.address() as AddressInfo).port}/`,
      PATH: process.env.PATH ?? "",
      XDG_CONFIG_HOME: join(dir, "no-config"),
    };
    const runs = [1, 2, 3].map(() => cliIO(env));
    const before = (await emu.admin.counters()).techpulse!;
    const codes = await Promise.all(
      runs.map((r) =>
        runLogin(
          {
            json: true,
            verbose: false,
            quiet: false,
            color: false,
            storeDir,
            timeout: 30,
            fields: {
              provider: "techpulse",
              baseUrl: tp().baseUrl,
              clientId: tp().clientId,
              clientSecretEnv: "TP_SECRET",
            },
          },
          r.io,
        ),
      ),
    );
    expect(codes).toEqual([0, 0, 0]);
    const after = (await emu.admin.counters()).techpulse!;
    expect(opened).toHaveLength(1);
    expect(after.codes - before.codes).toBe(1);
    const waited = runs.filter((r) => r.err().includes("Waiting for another hpauth login"));
    expect(waited.length).toBe(2);
    const lines = runs.map((r) => JSON.parse(r.out()) as Record<string, unknown>);
    for (const l of lines) {
      expect(l).toMatchObject({ ok: true, provider: "techpulse" });
      expect(JSON.stringify(l)).not.toMatch(/access_token|refresh_token/);
    }
    for (const r of runs) expect(r.err()).not.toContain(tp().clientSecret!);
  });
});
