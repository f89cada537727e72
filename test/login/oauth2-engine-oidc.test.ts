/**
 * The engine's oauth2 provider, authorization_code with PKCE S256 and refresh_token, against a real authorization
 * server (panva's oidc-provider, in-process on loopback, PKCE required, refresh tokens rotated) with a person in
 * headless Chromium signing in and consenting on its dev pages. test/engine/oauth2-oidc.test.ts covers
 * client_credentials; test/login/pkce-oidc.test.ts the authorizer's PKCE on its own.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLoopbackAuthorizer } from "../../src/engine/login/authorizer.js";
import { createTokenManager } from "../../src/engine/manager.js";
import type { NamedProfile } from "../../src/engine/types.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import { chromiumAvailable, launchChromium } from "./chromium.js";

const CLIENT_ID = "hpauth-engine-cli";
const CONFIDENTIAL_ID = "hpauth-engine-confidential";
const CONFIDENTIAL_SECRET = "confidential-secret-0123456789abcdef";

describe.skipIf(!chromiumAvailable)(
  "oauth2 provider: authorization_code + PKCE and refresh against oidc-provider",
  () => {
    let server: Server;
    let issuer: string;
    let browser: Browser;
    let context: BrowserContext;
    /** Authorization URLs the "system browser" was asked to open, and each person's walk through the pages. */
    const opened: { url: string; done: Promise<void> }[] = [];
    const store = new MemoryTokenStore();

    beforeAll(async () => {
      server = createServer();
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: CLIENT_ID,
            application_type: "native",
            token_endpoint_auth_method: "none",
            grant_types: ["authorization_code", "refresh_token"],
            response_types: ["code"],
            // RFC 8252 §7.3: any port on the loopback IP literal.
            redirect_uris: ["http://127.0.0.1/callback"],
          },
          {
            client_id: CONFIDENTIAL_ID,
            client_secret: CONFIDENTIAL_SECRET,
            application_type: "native",
            token_endpoint_auth_method: "client_secret_basic",
            grant_types: ["authorization_code", "refresh_token"],
            response_types: ["code"],
            redirect_uris: ["http://127.0.0.1/callback"],
          },
        ],
        pkce: { required: () => true },
        rotateRefreshToken: true,
        features: { devInteractions: { enabled: true } },
        cookies: { keys: ["test-only-cookie-key-0123456789"] },
      });
      server.on("request", provider.callback());
      browser = await launchChromium();
      context = await browser.newContext();
      // The dev login page @imports a web font; nothing leaves this machine.
      await context.route(/^https:\/\//, (route) => route.abort());
    });
    afterAll(async () => {
      await Promise.allSettled(opened.map((o) => o.done));
      await context?.close();
      await browser?.close();
      await new Promise((r) => server?.close(r));
    });

    /** The person at the browser: signs in and consents, whatever the pages ask, until the callback page. */
    async function person(page: Page, url: string): Promise<void> {
      await page.goto(url);
      for (let step = 0; step < 4; step++) {
        const done = page.locator("h1", { hasText: "Login complete" });
        const login = page.locator('input[name="login"]');
        const consent = page.locator('input[name="prompt"][value="consent"] ~ button');
        await done.or(login).or(consent).first().waitFor({ timeout: 10_000 });
        if (await done.count()) return;
        if (await login.count()) {
          await login.fill("alice");
          await page.fill('input[name="password"]', "pw");
          await page.click('button[type="submit"]');
        } else {
          await consent.click();
        }
      }
      throw new Error("the login pages never reached the callback");
    }

    const authorizer = createLoopbackAuthorizer({
      env: { DISPLAY: ":0" },
      platform: "linux",
      timeoutMs: 20_000,
      openBrowser: async (url) => {
        const page = await context.newPage();
        opened.push({ url, done: person(page, url) });
      },
    });

    const newManager = (extra: Partial<NamedProfile> = {}) =>
      createTokenManager({
        profile: {
          name: "oidc-code",
          provider: "oauth2",
          issuer,
          grantType: "authorization_code",
          clientId: CLIENT_ID,
          clientAuth: "none",
          pkce: true,
          scope: "openid offline_access",
          ...extra,
        },
        authorizer,
        store,
      });

    async function refreshDirectly(refreshToken: string): Promise<Response> {
      return fetch(`${issuer}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "refresh_token", client_id: CLIENT_ID, refresh_token: refreshToken }),
      });
    }

    it("logs in through the browser with PKCE S256 and stores a refresh token; a forced refresh rotates it", async () => {
      const manager = newManager();
      const token = await manager.login();
      expect(opened).toHaveLength(1);
      await opened[0]!.done;
      expect(token.source).toBe("login");
      expect(token.accessToken.length).toBeGreaterThan(10);
      expect(token.expiresAt.getTime()).toBeGreaterThan(Date.now() + 60_000);

      // PKCE: the authorization request carried an S256 challenge (and oidc-provider, which requires PKCE,
      // accepted the verifier at the code exchange, or there would be no token).
      const sent = new URL(opened[0]!.url).searchParams;
      expect(sent.get("code_challenge_method")).toBe("S256");
      // offline_access asks for consent (OIDC Core §11), else the server would issue no refresh token.
      expect(sent.get("prompt")).toBe("consent");
      expect(sent.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(sent.get("redirect_uri")).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
      expect(sent.get("scope")).toBe("openid offline_access");

      const afterLogin = await store.get(manager.key);
      const firstRefresh = afterLogin?.refreshToken;
      expect(firstRefresh).toBeTruthy();
      expect(afterLogin?.accessToken).toBe(token.accessToken);
      expect((await manager.getToken()).source).toBe("cache");

      const refreshed = await manager.getToken({ forceRefresh: true });
      expect(refreshed.source).toBe("refresh");
      expect(refreshed.accessToken).not.toBe(token.accessToken);
      const afterRefresh = await store.get(manager.key);
      expect(afterRefresh?.accessToken).toBe(refreshed.accessToken);
      expect(afterRefresh?.refreshToken).toBeTruthy();
      expect(afterRefresh?.refreshToken).not.toBe(firstRefresh);
      expect(opened).toHaveLength(1);

      // The rotated-out refresh token is spent: the server refuses it when presented directly.
      const reuse = await refreshDirectly(firstRefresh!);
      expect(reuse.status).toBe(400);
      expect(((await reuse.json()) as { error: string }).error).toBe("invalid_grant");
    });

    it("a confidential client (client_secret_basic, registered redirect URI) logs in with PKCE and refreshes", async () => {
      const manager = newManager({
        clientId: CONFIDENTIAL_ID,
        clientSecret: CONFIDENTIAL_SECRET,
        clientAuth: "client_secret_basic",
        pkce: undefined,
        redirectUri: "http://127.0.0.1/callback",
      });
      const before = opened.length;
      const token = await manager.login();
      expect(opened).toHaveLength(before + 1);
      await opened.at(-1)!.done;
      expect(token.source).toBe("login");
      // PKCE is on by default, secret or not.
      const sent = new URL(opened.at(-1)!.url).searchParams;
      expect(sent.get("code_challenge_method")).toBe("S256");
      expect(sent.get("client_id")).toBe(CONFIDENTIAL_ID);
      expect(sent.get("redirect_uri")).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
      const firstRefresh = (await store.get(manager.key))?.refreshToken;
      expect(firstRefresh).toBeTruthy();

      const refreshed = await manager.getToken({ forceRefresh: true });
      expect(refreshed.source).toBe("refresh");
      expect(refreshed.accessToken).not.toBe(token.accessToken);
      expect((await store.get(manager.key))?.refreshToken).not.toBe(firstRefresh);
      expect(opened).toHaveLength(before + 1);
    });
  },
);
