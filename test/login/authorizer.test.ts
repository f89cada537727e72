import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { createLoopbackAuthorizer, planRedirect } from "../../src/engine/login/authorizer.js";
import { CALLBACK_CSP } from "../../src/engine/login/page.js";
import { newPkcePair, newState, SingleUseState, stateMatches } from "../../src/engine/login/state.js";
import { Capture, callbackUrl, fakeRequest, input, stateOf, until } from "./helpers.js";

const DISPLAY_ENV = { DISPLAY: ":0" };

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
    return false;
  } catch (e) {
    return /ECONNREFUSED|fetch failed/.test(String((e as Error).cause ?? e));
  }
}

describe("state and PKCE", () => {
  it("makes a fresh 256-bit state per attempt and compares it exactly", () => {
    const a = newState((n) => new Uint8Array(randomBytes(n)));
    const b = newState((n) => new Uint8Array(randomBytes(n)));
    expect(Buffer.from(a, "base64url")).toHaveLength(32);
    expect(a).not.toBe(b);
    expect(stateMatches(a, a)).toBe(true);
    expect(stateMatches(a, `${a}x`)).toBe(false);
    expect(stateMatches(a, a.slice(0, -1))).toBe(false);
    expect(stateMatches(a, "")).toBe(false);
    expect(stateMatches(a, null)).toBe(false);
  });

  it("a state is consumed by its first use", () => {
    const s = new SingleUseState("abc");
    expect(s.consume("abd")).toBe(false);
    expect(s.used).toBe(false);
    expect(s.consume("abc")).toBe(true);
    expect(s.consume("abc")).toBe(false);
  });

  it("PKCE S256: the challenge is base64url(sha256(verifier))", () => {
    const { codeVerifier, codeChallenge } = newPkcePair((n) => new Uint8Array(n).fill(7));
    expect(codeVerifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(codeChallenge).toBe(createHash("sha256").update(codeVerifier).digest("base64url"));
  });
});

describe("planRedirect", () => {
  it("ephemeral 127.0.0.1 listener without a registered URI, or the --port", () => {
    expect(planRedirect(undefined, undefined)).toEqual({ listen: { host: "127.0.0.1", port: 0, path: "/callback" } });
    expect(planRedirect(undefined, 8400).listen?.port).toBe(8400);
  });
  it("a registered loopback URI fixes host, port and path and is sent verbatim", () => {
    expect(planRedirect("http://localhost:8400/callback", undefined)).toEqual({
      redirectUri: "http://localhost:8400/callback",
      listen: { host: "127.0.0.1", port: 8400, path: "/callback" },
    });
    expect(planRedirect("http://[::1]:9000/cb", undefined).listen).toEqual({ host: "::1", port: 9000, path: "/cb" });
    expect(planRedirect("http://localhost:8400/callback", 8400).listen?.port).toBe(8400);
  });
  it("a registered loopback URI without a port takes any port (RFC 8252 §7.3), keeping its host and path", () => {
    expect(planRedirect("http://localhost", undefined)).toEqual({
      listen: { host: "127.0.0.1", port: 0, path: "/" },
      uriHost: "localhost",
    });
    expect(planRedirect("http://[::1]/cb", 8400)).toEqual({
      listen: { host: "::1", port: 8400, path: "/cb" },
      uriHost: "[::1]",
    });
  });
  it("refuses a --port that contradicts the registered URI", () => {
    expect(() => planRedirect("http://localhost:8400/callback", 9000)).toThrow(/fixes port 8400/);
  });
  it("a non-loopback or https URI can only be pasted back", () => {
    expect(planRedirect("https://app.example.com/cb", undefined)).toEqual({
      redirectUri: "https://app.example.com/cb",
    });
    expect(planRedirect("https://localhost:8400/cb", undefined).listen).toBeUndefined();
  });
});

describe("loopback authorizer (browser mode, real sockets)", () => {
  it("answers a forged callback with 401, keeps waiting, accepts the real one with a safe page, then closes", async () => {
    const out = new Capture();
    const seen: Record<string, { status: number; headers: Headers; body: string }> = {};
    const authorize = createLoopbackAuthorizer({
      env: DISPLAY_ENV,
      platform: "linux",
      output: out,
      openBrowser: async (url) => {
        const forged = await fetch(callbackUrl(url, { code: "EVILCODE", state: "forged-state" }));
        seen.forged = { status: forged.status, headers: forged.headers, body: await forged.text() };
        const missing = await fetch(callbackUrl(url, { code: "EVILCODE" }));
        seen.missing = { status: missing.status, headers: missing.headers, body: await missing.text() };
        const real = await fetch(callbackUrl(url, { code: "REALCODE-123", state: stateOf(url) }));
        seen.real = { status: real.status, headers: real.headers, body: await real.text() };
      },
    });
    const request = fakeRequest();
    const result = await authorize(request);
    expect(result.code).toBe("REALCODE-123");
    expect(result.codeVerifier).toBeUndefined();
    expect(result.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(request.lastUrl!.searchParams.get("redirect_uri")).toBe(result.redirectUri);
    expect(Buffer.from(stateOf(request.lastUrl!.href), "base64url").length).toBeGreaterThanOrEqual(16);

    await until(() => seen.real !== undefined);
    expect(seen.forged!.status).toBe(401);
    expect(seen.missing!.status).toBe(401);
    expect(seen.real!.status).toBe(200);
    for (const r of Object.values(seen)) {
      expect(r.headers.get("content-security-policy")).toBe(CALLBACK_CSP);
      expect(r.headers.get("referrer-policy")).toBe("no-referrer");
      expect(r.headers.get("cache-control")).toBe("no-store");
      expect(r.body).not.toMatch(/REALCODE|EVILCODE/);
      expect(r.body).not.toMatch(/<script|https?:\/\//i);
    }
    expect(CALLBACK_CSP).toContain("default-src 'none'");
    expect(seen.real!.body).toContain("Login complete");
    expect(out.text).toContain("wrong or missing state");
    expect(out.text).not.toContain("REALCODE");
    // One valid callback, then the listener is gone.
    expect(await refused(result.redirectUri)).toBe(true);
  });

  it("uses PKCE S256 when the provider takes it", async () => {
    const authorize = createLoopbackAuthorizer({
      env: DISPLAY_ENV,
      platform: "linux",
      openBrowser: async (url) => {
        await fetch(callbackUrl(url, { code: "c1", state: stateOf(url) }));
      },
    });
    const request = fakeRequest({ pkce: true });
    const result = await authorize(request);
    expect(request.lastUrl!.searchParams.get("code_challenge_method")).toBe("S256");
    expect(request.lastUrl!.searchParams.get("code_challenge")).toBe(
      createHash("sha256").update(result.codeVerifier!).digest("base64url"),
    );
  });

  it("listens where a registered redirect URI says and sends it verbatim", async () => {
    const port = await freePort();
    const registered = `http://localhost:${port}/oauth/cb`;
    const authorize = createLoopbackAuthorizer({
      env: DISPLAY_ENV,
      platform: "linux",
      openBrowser: async (url) => {
        const cb = new URL(callbackUrl(url, { code: "c2", state: stateOf(url) }));
        expect(cb.host).toBe(`localhost:${port}`);
        // The browser resolves localhost; we reach the listener on 127.0.0.1 with a Host of localhost.
        const wrongPath = await fetch(`http://127.0.0.1:${port}/callback${cb.search}`);
        expect(wrongPath.status).toBe(404);
        await fetch(`http://127.0.0.1:${port}${cb.pathname}${cb.search}`, { headers: { host: `localhost:${port}` } });
      },
    });
    const request = fakeRequest({ redirectUri: registered });
    const result = await authorize(request);
    expect(result).toEqual({ code: "c2", redirectUri: registered });
    expect(request.lastUrl!.searchParams.get("redirect_uri")).toBe(registered);
  });

  it("turns away a non-loopback Host (DNS rebinding) without ending the login", async () => {
    let status = 0;
    const authorize = createLoopbackAuthorizer({
      env: DISPLAY_ENV,
      platform: "linux",
      openBrowser: async (url) => {
        const cb = new URL(callbackUrl(url, { code: "c3", state: stateOf(url) }));
        const { request } = await import("node:http");
        status = await new Promise<number>((resolve, reject) => {
          request(cb, { headers: { host: "attacker.example:80" } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
            .on("error", reject)
            .end();
        });
        await fetch(cb);
      },
    });
    expect((await authorize(fakeRequest())).code).toBe("c3");
    expect(status).toBe(400);
  });

  it("consent denied ends the login with ACCESS_DENIED and a clear page", async () => {
    let page = "";
    const authorize = createLoopbackAuthorizer({
      env: DISPLAY_ENV,
      platform: "linux",
      openBrowser: async (url) => {
        const r = await fetch(
          callbackUrl(url, {
            error: "access_denied",
            error_description: "The user <b>denied</b>",
            state: stateOf(url),
          }),
        );
        page = await r.text();
        expect(r.status).toBe(403);
      },
    });
    const err = await authorize(fakeRequest()).catch((e) => e);
    expect(err).toBeInstanceOf(HpauthError);
    expect(err.code).toBe("ACCESS_DENIED");
    expect(err.oauthError).toBe("access_denied");
    expect(err.exitCode).toBe(3);
    await until(() => page !== "");
    expect(page).toContain("Access was denied");
    expect(page).not.toContain("<b>");
  });

  it("an error response with a forged state does not end the login", async () => {
    const authorize = createLoopbackAuthorizer({
      env: DISPLAY_ENV,
      platform: "linux",
      openBrowser: async (url) => {
        expect((await fetch(callbackUrl(url, { error: "access_denied", state: "nope" }))).status).toBe(401);
        await fetch(callbackUrl(url, { code: "good", state: stateOf(url) }));
      },
    });
    expect((await authorize(fakeRequest())).code).toBe("good");
  });

  it("times out with a clear message and releases the port", async () => {
    const port = await freePort();
    const out = new Capture();
    const authorize = createLoopbackAuthorizer({
      env: DISPLAY_ENV,
      platform: "linux",
      port,
      output: out,
      timeoutMs: 300,
      openBrowser: async () => {},
    });
    const t0 = Date.now();
    const err = await authorize(fakeRequest()).catch((e) => e);
    expect(err.code).toBe("TIMEOUT");
    expect(err.message).toMatch(/No login response arrived within 300ms/);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await refused(`http://127.0.0.1:${port}/callback`)).toBe(true);
    expect(out.text).toContain("Ctrl-C to cancel");
  });

  it("Ctrl-C (the signal) cancels and releases the port", async () => {
    const port = await freePort();
    const ac = new AbortController();
    const authorize = createLoopbackAuthorizer({
      env: DISPLAY_ENV,
      platform: "linux",
      port,
      signal: ac.signal,
      openBrowser: async () => {
        setTimeout(() => ac.abort(), 50);
      },
    });
    const err = await authorize(fakeRequest()).catch((e) => e);
    expect(err.code).toBe("CANCELLED");
    expect(err.exitCode).toBe(130);
    expect(await refused(`http://127.0.0.1:${port}/callback`)).toBe(true);
  });

  it("a busy fixed port is a clear usage error in browser mode", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const authorize = createLoopbackAuthorizer({
        env: DISPLAY_ENV,
        platform: "linux",
        port,
        openBrowser: async () => {},
      });
      const err = await authorize(fakeRequest()).catch((e) => e);
      expect(err.code).toBe("USAGE");
      expect(err.message).toContain("in use");
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it("a failing browser launcher falls back to paste-back", async () => {
    const out = new Capture();
    const stdin = input();
    const authorize = createLoopbackAuthorizer({
      env: DISPLAY_ENV,
      platform: "linux",
      output: out,
      input: stdin,
      openBrowser: async () => {
        throw new Error("no browser");
      },
    });
    const request = fakeRequest();
    const p = authorize(request);
    await until(() => out.text.includes("Paste the address"));
    stdin.write(`${callbackUrl(request.lastUrl!.href, { code: "pasted", state: stateOf(request.lastUrl!.href) })}\n`);
    expect((await p).code).toBe("pasted");
    expect(out.text).toContain("Could not open a browser");
  });
});

describe("paste-back mode", () => {
  it("checks state on the pasted address just the same", async () => {
    const out = new Capture();
    const stdin = input();
    const authorize = createLoopbackAuthorizer({ mode: "paste", output: out, input: stdin, env: {} });
    const request = fakeRequest();
    const p = authorize(request);
    await until(() => out.text.includes("Paste the address"));
    const url = request.lastUrl!.href;
    expect(out.text).toContain(url);
    stdin.write(`${callbackUrl(url, { code: "evil", state: "forged" })}\n`);
    stdin.write("justacode\n");
    stdin.write(`${callbackUrl(url, { code: "evil" })}\n`);
    stdin.write(`  ${callbackUrl(url, { code: "the-code", state: stateOf(url) })}  \n`);
    const result = await p;
    expect(result.code).toBe("the-code");
    expect(out.text).toContain("does not belong to this login");
    expect(out.text).toContain("A code alone cannot be checked");
    expect(out.text).toContain("has no state");
    expect(out.text).not.toContain("the-code");
  });

  it("accepts a query string, and a bare code when PKCE binds it", async () => {
    for (const pkce of [false, true]) {
      const out = new Capture();
      const stdin = input();
      const authorize = createLoopbackAuthorizer({ mode: "paste", output: out, input: stdin, env: {} });
      const request = fakeRequest({ pkce });
      const p = authorize(request);
      await until(() => out.text.includes("Paste the address"));
      if (pkce) stdin.write("bare-code-xyz\n");
      else stdin.write(`?code=qs-code&state=${encodeURIComponent(stateOf(request.lastUrl!.href))}\n`);
      const r = await p;
      expect(r.code).toBe(pkce ? "bare-code-xyz" : "qs-code");
      if (pkce) expect(r.codeVerifier).toBeDefined();
    }
  });

  it("input that ends before a response is a clear error once nothing else can answer", async () => {
    const stdin = input();
    const authorize = createLoopbackAuthorizer({
      mode: "paste",
      input: stdin,
      env: {},
      output: new Capture(),
    });
    // A non-loopback redirect URI: no listener, so the end of input is the end of the login.
    const p = authorize(fakeRequest({ redirectUri: "https://app.example.com/cb" }));
    stdin.end();
    const err = await p.catch((e) => e);
    expect(err.code).toBe("LOGIN_REQUIRED");
  });

  it("falls back to paste-back by itself over SSH or without a display, and says so", async () => {
    for (const env of [{ SSH_CONNECTION: "10.0.0.1 5000 10.0.0.2 22", DISPLAY: ":0" }, {}]) {
      const out = new Capture();
      const stdin = input();
      let opened = false;
      const authorize = createLoopbackAuthorizer({
        env,
        platform: "linux",
        output: out,
        input: stdin,
        openBrowser: async () => {
          opened = true;
        },
      });
      const request = fakeRequest();
      const p = authorize(request);
      await until(() => out.text.includes("Paste the address"));
      expect(out.text).toMatch(env.SSH_CONNECTION ? /SSH session/ : /no display/);
      expect(out.text).toContain("ssh -L");
      // The listener still runs (for ssh -L): a redirect reaching it ends the login too.
      const url = request.lastUrl!.href;
      await fetch(callbackUrl(url, { code: "via-listener", state: stateOf(url) }));
      expect((await p).code).toBe("via-listener");
      expect(opened).toBe(false);
      stdin.end();
    }
  });
});
