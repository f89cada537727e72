/**
 * PKCE S256 against a real, strict authorization server (panva's oidc-provider, PKCE required, native client
 * with a loopback redirect) driven by headless Chromium: the challenge our authorizer sends is the one the
 * verifier it returns answers, and a wrong verifier is refused. The code exchange is done here by hand, as the
 * engine would (the engine's own oauth2 tests cover its exchange).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLoopbackAuthorizer } from "../../src/engine/login/authorizer.js";
import type { AuthorizationRequest } from "../../src/engine/types.js";
import { browserPage, chromiumAvailable, launchChromium } from "./chromium.js";

describe.skipIf(!chromiumAvailable)("PKCE against oidc-provider in headless Chromium", () => {
  let server: Server;
  let issuer: string;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: "hpauth-cli",
          application_type: "native",
          token_endpoint_auth_method: "none",
          grant_types: ["authorization_code"],
          response_types: ["code"],
          // RFC 8252 §7.3: any port on the loopback IP literal.
          redirect_uris: ["http://127.0.0.1/callback"],
        },
      ],
      pkce: { required: () => true },
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
    await context?.close();
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  function request(): AuthorizationRequest {
    return {
      provider: "oauth2",
      profile: "oidc",
      pkce: true,
      authorizationUrl({ redirectUri, state, codeChallenge }) {
        const u = new URL(`${issuer}/auth`);
        u.search = new URLSearchParams({
          client_id: "hpauth-cli",
          response_type: "code",
          scope: "openid",
          redirect_uri: redirectUri,
          state,
          code_challenge: codeChallenge!,
          code_challenge_method: "S256",
        }).toString();
        return u;
      },
    };
  }

  async function exchange(code: string, redirectUri: string, codeVerifier: string): Promise<Response> {
    return fetch(`${issuer}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: "hpauth-cli",
        code,
        redirect_uri: redirectUri,
        code_verifier: codeVerifier,
      }),
    });
  }

  async function browserLogin(): Promise<{ code: string; redirectUri: string; codeVerifier?: string }> {
    const { page, openBrowser } = await browserPage(context);
    let flow: Promise<void> = Promise.resolve();
    const authorize = createLoopbackAuthorizer({
      env: { DISPLAY: ":0" },
      platform: "linux",
      timeoutMs: 20_000,
      openBrowser: async (url) => {
        flow = (async () => {
          await openBrowser(url);
          // Sign in, consent, or neither (an existing session and grant): whatever the page asks, until ours.
          for (let step = 0; step < 4; step++) {
            const h1 = page.locator("h1", { hasText: "Login complete" });
            const login = page.locator('input[name="login"]');
            const consent = page.locator('input[name="prompt"][value="consent"] ~ button');
            await h1.or(login).or(consent).first().waitFor();
            if (await h1.count()) return;
            if (await login.count()) {
              await login.fill("alice");
              await page.fill('input[name="password"]', "pw");
              await page.click('button[type="submit"]');
            } else {
              await consent.click();
            }
          }
        })();
      },
    });
    const result = await authorize(request());
    await flow;
    expect(await page.textContent("h1")).toBe("Login complete");
    await page.close();
    return result;
  }

  it("the code is bound to our verifier: the right one gets tokens, a wrong one is refused", async () => {
    const first = await browserLogin();
    expect(first.codeVerifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const wrong = await exchange(first.code, first.redirectUri, "x".repeat(43));
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: string }).error).toBe("invalid_grant");

    const second = await browserLogin();
    const ok = await exchange(second.code, second.redirectUri, second.codeVerifier!);
    expect(ok.status).toBe(200);
    expect((await ok.json()) as Record<string, unknown>).toHaveProperty("access_token");
  });
});
