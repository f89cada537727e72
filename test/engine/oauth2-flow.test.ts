/**
 * The standard oauth2 provider's flows (src/engine/providers/oauth2-flow.ts) against a scripted authorization server
 * on a real loopback socket: discovery (OpenID first, RFC 8414 second, once per issuer, the profile's endpoints
 * winning), what each grant sends (password, authorization_code with PKCE, refresh, client_credentials with each
 * client authentication), and how each refusal maps to an error code and hint. The browser is an injected
 * authorizer that answers with a code at once; test/login covers the real ones.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTokenManager } from "../../src/engine/manager.js";
import type { AuthorizationRequest, InteractiveAuthorizer, NamedProfile } from "../../src/engine/types.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";

interface Answer {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}
interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  form: Record<string, string>;
}

let server: Server;
let origin = "";
/** Answers by path; a token path's answers are used in order, the last one repeating. */
let routes: Record<string, Answer[]> = {};
let seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const path = new URL(req.url ?? "/", origin).pathname;
      seen.push({
        method: req.method ?? "",
        path,
        headers: req.headers,
        form: Object.fromEntries(new URLSearchParams(body)),
      });
      const list = routes[path];
      const a = (list && list.length > 1 ? list.shift() : list?.[0]) ?? { status: 404, body: { error: "not_found" } };
      const text = a.body === undefined ? "" : JSON.stringify(a.body);
      res.writeHead(a.status ?? 200, { "content-type": "application/json", "cache-control": "no-store", ...a.headers });
      res.end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  routes = {};
  seen = [];
});

/** A fresh issuer path per test: discovery results are kept per issuer for the process's life. */
let n = 0;
function issuerPath(): string {
  n++;
  return `/is${n}`;
}

const TOKEN = { access_token: "opaque-at-1", token_type: "Bearer", expires_in: 600 };
const runtime = { env: {}, sleep: async () => {} };
const RETRY = { retry: { attempts: 1, baseDelayMs: 1 } };

function manager(extra: Partial<NamedProfile>, authorizer?: InteractiveAuthorizer) {
  const profile: NamedProfile = { name: "o", provider: "oauth2", clientId: "clientA1", ...extra };
  const store = new MemoryTokenStore();
  return Object.assign(
    createTokenManager({ profile, store, runtime, ...RETRY, ...(authorizer ? { authorizer } : {}) }),
    { store },
  );
}

async function fails(p: Promise<unknown>): Promise<Record<string, unknown> & Error> {
  return p.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e as Record<string, unknown> & Error,
  );
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

describe("discovery", () => {
  it("OpenID discovery names the token endpoint; done once per issuer", async () => {
    const path = issuerPath();
    const issuer = `${origin}${path}`;
    routes[`${path}/.well-known/openid-configuration`] = [{ body: { issuer, token_endpoint: `${issuer}/tok` } }];
    routes[`${path}/tok`] = [{ body: TOKEN }];
    const t = await manager({ issuer, clientSecret: "sec" }).getToken();
    expect(t.accessToken).toBe("opaque-at-1");
    expect(seen.map((s) => s.path)).toEqual([`${path}/.well-known/openid-configuration`, `${path}/tok`]);
    await manager({ issuer, clientSecret: "sec", name: "again" }).getToken();
    expect(seen.map((s) => s.path).slice(2)).toEqual([`${path}/tok`]);
  });

  it("RFC 8414 when there is no OpenID configuration; the profile's tokenUrl overrides the metadata's", async () => {
    const path = issuerPath();
    const issuer = `${origin}${path}`;
    routes[`/.well-known/oauth-authorization-server${path}`] = [{ body: { issuer, token_endpoint: `${issuer}/tok` } }];
    routes[`${path}/mine`] = [{ body: TOKEN }];
    routes[`${path}/tok`] = [{ body: { ...TOKEN, access_token: "from-metadata" } }];
    const t = await manager({ issuer, tokenUrl: `${issuer}/mine`, clientSecret: "sec" }).getToken();
    expect(t.accessToken).toBe("opaque-at-1");
    expect(seen.map((s) => s.path)).toEqual([
      `${path}/.well-known/openid-configuration`,
      `/.well-known/oauth-authorization-server${path}`,
      `${path}/mine`,
    ]);
    // From the cache, the override still applies.
    seen = [];
    await manager({ issuer, tokenUrl: `${issuer}/mine`, clientSecret: "sec", name: "b" }).getToken();
    expect(seen.map((s) => s.path)).toEqual([`${path}/mine`]);
    seen = [];
    expect((await manager({ issuer, clientSecret: "sec", name: "c" }).getToken()).accessToken).toBe("from-metadata");
  });

  it("neither document: INVALID_RESPONSE naming the issuer, with a hint", async () => {
    const path = issuerPath();
    const issuer = `${origin}${path}`;
    const e = await fails(manager({ issuer, clientSecret: "sec" }).getToken());
    expect(e.code).toBe("INVALID_RESPONSE");
    expect(e.message).toMatch(new RegExp(`^Discovery failed for issuer ${origin}: \\S`));
    expect(e.hint).toBe("Check `issuer`, or set tokenUrl (and authorizationUrl) explicitly.");
    expect(e.provider).toBe("oauth2");
    expect(e.profile).toBe("o");
    expect(seen).toHaveLength(2);
  });

  it("metadata for another issuer is refused", async () => {
    const path = issuerPath();
    const issuer = `${origin}${path}`;
    routes[`${path}/.well-known/openid-configuration`] = [
      { body: { issuer: `${origin}/other`, token_endpoint: `${issuer}/t` } },
    ];
    routes[`/.well-known/oauth-authorization-server${path}`] = [
      { body: { issuer: `${origin}/other`, token_endpoint: `${issuer}/t` } },
    ];
    const e = await fails(manager({ issuer, clientSecret: "sec" }).getToken());
    expect(e.code).toBe("INVALID_RESPONSE");
    expect(e.message).toMatch(/^Discovery failed for issuer/);
  });

  it("a server error on both: the last one, as is; a long rate limit: at once, without trying the second", async () => {
    const path = issuerPath();
    const issuer = `${origin}${path}`;
    routes[`${path}/.well-known/openid-configuration`] = [{ status: 500, body: { error: "boom" } }];
    routes[`/.well-known/oauth-authorization-server${path}`] = [{ status: 502, body: { error: "boom" } }];
    const e = await fails(manager({ issuer, clientSecret: "sec" }).getToken());
    expect(e).toMatchObject({ code: "SERVER_ERROR", status: 502 });

    const p2 = issuerPath();
    const limited = `${origin}${p2}`;
    routes[`${p2}/.well-known/openid-configuration`] = [{ status: 429, headers: { "retry-after": "3600" } }];
    seen = [];
    const r = await fails(manager({ issuer: limited, clientSecret: "sec" }).getToken());
    expect(r.code).toBe("RATE_LIMITED");
    expect(seen.map((s) => s.path)).toEqual([`${p2}/.well-known/openid-configuration`]);
  });
});

describe("what each grant sends", () => {
  it("client_credentials with client_secret_basic: the Basic header, scope and token parameters in the body", async () => {
    routes["/cc/token"] = [{ body: { ...TOKEN, scope: "api:read", refresh_token: "rt-1" } }];
    const m = manager({
      tokenUrl: `${origin}/cc/token`,
      clientSecret: "secretB",
      scope: "api:read",
      tokenParams: { audience: "https://api.example.com" },
    });
    const t = await m.getToken();
    expect(t.scope).toBe("api:read");
    expect((t.expiresAt.getTime() - Date.now()) / 1000).toBeGreaterThan(590);
    expect((await m.store.get(m.key))?.refreshToken).toBe("rt-1");
    expect(seen[0]!.headers.authorization).toBe(basic("clientA1", "secretB"));
    expect(seen[0]!.form).toEqual({
      grant_type: "client_credentials",
      scope: "api:read",
      audience: "https://api.example.com",
    });
  });

  it("client_secret_post: id and secret in the body, no Authorization", async () => {
    routes["/post/token"] = [{ body: TOKEN }];
    await manager({
      tokenUrl: `${origin}/post/token`,
      clientSecret: "secret-p",
      clientAuth: "client_secret_post",
    }).getToken();
    expect(seen[0]!.headers.authorization).toBeUndefined();
    expect(seen[0]!.form).toEqual({
      grant_type: "client_credentials",
      client_id: "clientA1",
      client_secret: "secret-p",
    });
  });

  it("password grant, public client: username, password and the client id in the body", async () => {
    routes["/pw/token"] = [{ body: { ...TOKEN, expires_in: 0 } }];
    const m = manager({ tokenUrl: `${origin}/pw/token`, grantType: "password", username: "ann", password: "pw-123" });
    const t = await m.getToken();
    // expires_in 0 says nothing: the provider's default lifetime (300 s) applies.
    expect(Math.round((t.expiresAt.getTime() - Date.now()) / 1000)).toBeLessThanOrEqual(300);
    expect(Math.round((t.expiresAt.getTime() - Date.now()) / 1000)).toBeGreaterThan(290);
    expect(t.scope).toBeUndefined();
    expect(seen[0]!.headers.authorization).toBeUndefined();
    expect(seen[0]!.form).toEqual({
      grant_type: "password",
      username: "ann",
      password: "pw-123",
      client_id: "clientA1",
    });
  });

  it("authorization_code with PKCE: the authorization URL, then code, redirect_uri and verifier", async () => {
    routes["/ac/token"] = [{ body: { ...TOKEN, refresh_token: "rt-code" } }];
    const asked: { req: AuthorizationRequest; url: URL }[] = [];
    const authorizer: InteractiveAuthorizer = async (req) => {
      const url = req.authorizationUrl({
        redirectUri: "http://127.0.0.1:7777/cb",
        state: "st-1",
        codeChallenge: "ch-1",
      });
      asked.push({ req, url });
      return { code: "code-1", redirectUri: "http://127.0.0.1:7777/cb", codeVerifier: "ver-1" };
    };
    const m = manager(
      {
        tokenUrl: `${origin}/ac/token`,
        authorizationUrl: "https://as.example.com/authorize",
        grantType: "authorization_code",
        scope: "openid offline_access",
        tokenParams: { resource: "r1" },
        redirectUri: "http://127.0.0.1:7777/cb",
        callbackPort: 7777,
      },
      authorizer,
    );
    await m.getToken();
    expect(asked).toHaveLength(1);
    expect(asked[0]!.req).toMatchObject({
      provider: "oauth2",
      profile: "o",
      pkce: true,
      redirectUri: "http://127.0.0.1:7777/cb",
      callbackPort: 7777,
    });
    const u = asked[0]!.url;
    expect(`${u.origin}${u.pathname}`).toBe("https://as.example.com/authorize");
    expect(Object.fromEntries(u.searchParams)).toEqual({
      client_id: "clientA1",
      redirect_uri: "http://127.0.0.1:7777/cb",
      response_type: "code",
      scope: "openid offline_access",
      prompt: "consent",
      state: "st-1",
      code_challenge: "ch-1",
      code_challenge_method: "S256",
    });
    expect(seen[0]!.form).toEqual({
      grant_type: "authorization_code",
      resource: "r1",
      code: "code-1",
      redirect_uri: "http://127.0.0.1:7777/cb",
      code_verifier: "ver-1",
      client_id: "clientA1",
    });
  });

  it("authorization_code without PKCE or scope: no challenge, no scope, no prompt, no verifier", async () => {
    routes["/ac2/token"] = [{ body: TOKEN }];
    let url: URL | undefined;
    let pkce: boolean | undefined;
    const authorizer: InteractiveAuthorizer = async (req) => {
      pkce = req.pkce;
      url = req.authorizationUrl({ redirectUri: "http://127.0.0.1:7777/cb", state: "st-2" });
      expect(req.redirectUri).toBeUndefined();
      expect(req.callbackPort).toBeUndefined();
      return { code: "code-2", redirectUri: "http://127.0.0.1:7777/cb" };
    };
    await manager(
      {
        tokenUrl: `${origin}/ac2/token`,
        authorizationUrl: "https://as.example.com/authorize",
        grantType: "authorization_code",
        pkce: false,
      },
      authorizer,
    ).getToken();
    expect(pkce).toBe(false);
    expect(Object.fromEntries(url!.searchParams)).toEqual({
      client_id: "clientA1",
      redirect_uri: "http://127.0.0.1:7777/cb",
      response_type: "code",
      state: "st-2",
    });
    expect(seen[0]!.form).toEqual({
      grant_type: "authorization_code",
      code: "code-2",
      redirect_uri: "http://127.0.0.1:7777/cb",
      client_id: "clientA1",
    });
  });

  it("a scope without offline_access asks for no consent", async () => {
    routes["/ac3/token"] = [{ body: TOKEN }];
    let url: URL | undefined;
    await manager(
      {
        tokenUrl: `${origin}/ac3/token`,
        authorizationUrl: "https://as.example.com/authorize",
        grantType: "authorization_code",
        scope: "openid offline_accessx",
      },
      async (req) => {
        url = req.authorizationUrl({ redirectUri: "http://127.0.0.1:7777/cb", state: "s" });
        return { code: "c", redirectUri: "http://127.0.0.1:7777/cb" };
      },
    ).getToken();
    expect(url!.searchParams.has("prompt")).toBe(false);
    expect(url!.searchParams.get("scope")).toBe("openid offline_accessx");
  });

  it("authorization_code without a browser is LOGIN_REQUIRED; metadata without an authorization endpoint, CONFIG_INVALID", async () => {
    const path = issuerPath();
    const issuer = `${origin}${path}`;
    routes[`${path}/.well-known/openid-configuration`] = [{ body: { issuer, token_endpoint: `${issuer}/t` } }];
    const noBrowser = await fails(manager({ issuer, grantType: "authorization_code" }).getToken());
    expect(noBrowser.code).toBe("LOGIN_REQUIRED");
    expect(noBrowser.hint).toBe("Run `hpauth login --profile o` in a browser-capable terminal.");
    const e = await fails(
      manager({ issuer, grantType: "authorization_code" }, async () => {
        throw new Error("the browser must not open");
      }).getToken(),
    );
    expect(e).toMatchObject({ code: "CONFIG_INVALID", provider: "oauth2", profile: "o" });
    expect(e.message).toBe("authorizationUrl: the server metadata has no authorization_endpoint");
  });

  it("refresh: the refresh token and the token parameters, the client authenticated", async () => {
    routes["/rf/token"] = [
      { body: { ...TOKEN, refresh_token: "rt-a" } },
      { body: { ...TOKEN, access_token: "opaque-at-2", refresh_token: "rt-b", scope: "s2" } },
    ];
    const m = manager({
      tokenUrl: `${origin}/rf/token`,
      clientSecret: "secret-r",
      clientAuth: "client_secret_post",
      tokenParams: { audience: "aud-1" },
    });
    await m.getToken();
    const t = await m.getToken({ forceRefresh: true });
    expect(t.source).toBe("refresh");
    expect(t.accessToken).toBe("opaque-at-2");
    expect(t.scope).toBe("s2");
    expect((await m.store.get(m.key))?.refreshToken).toBe("rt-b");
    expect(seen[1]!.form).toEqual({
      grant_type: "refresh_token",
      refresh_token: "rt-a",
      audience: "aud-1",
      client_id: "clientA1",
      client_secret: "secret-r",
    });
  });
});

describe("refusals", () => {
  const CLIENT_HINT = "Check the client id, client secret and client_auth.";
  async function login(answer: Answer, extra: Partial<NamedProfile> = {}) {
    const path = `/r${++n}/token`;
    routes[path] = [answer];
    return fails(manager({ tokenUrl: `${origin}${path}`, clientSecret: "plainsecret", ...extra }).getToken());
  }

  it.each([
    [401, { error: "invalid_client" }, "INVALID_CLIENT", CLIENT_HINT],
    [400, { error: "invalid_client" }, "INVALID_CLIENT", CLIENT_HINT],
    [400, { error: "unauthorized_client" }, "INVALID_CLIENT", CLIENT_HINT],
    [400, { error: "invalid_grant" }, "INVALID_GRANT", "Check the credentials."],
    [400, { error: "access_denied" }, "ACCESS_DENIED", undefined],
    [400, { error: "invalid_scope" }, "UNAUTHORIZED", undefined],
    [401, { error: "invalid_request" }, "UNAUTHORIZED", undefined],
    [403, { error: "insufficient_scope" }, "INVALID_RESPONSE", undefined],
  ] as const)("HTTP %s %j → %s", async (status, body, code, hint) => {
    const e = await login({ status, body });
    expect(e).toMatchObject({ code, status, oauthError: body.error, provider: "oauth2", profile: "o" });
    expect(e.hint).toBe(hint);
    expect(e.message).toBe(`token request (client_credentials) refused: HTTP ${status} ${body.error}`);
    expect(seen).toHaveLength(1);
  });

  it("the description is quoted, redacted; one that is not a string is left out", async () => {
    const e = await login({
      status: 400,
      body: { error: "invalid_grant", error_description: "no: plainsecret is wrong" },
    });
    expect(e.message).toMatch(
      /^token request \(client_credentials\) refused: HTTP 400 invalid_grant: no: .* is wrong$/,
    );
    expect(e.message).not.toContain("plainsecret");
    const n42 = await login({ status: 400, body: { error: "invalid_grant", error_description: 42 } });
    expect(n42.message).toBe("token request (client_credentials) refused: HTTP 400 invalid_grant");
    const long = await login({ status: 400, body: { error: `e${"x".repeat(80)}` } });
    expect(long.oauthError).toBe(`e${"x".repeat(63)}`);
  });

  it("a client_secret_basic refusal with encodable credentials says why; a 400 gets the plain hint", async () => {
    const e = await login(
      { status: 401, body: { error: "invalid_client" } },
      { clientId: "my.app", clientSecret: "s-1" },
    );
    expect(e.hint).toMatch(/^client_secret_basic form-encodes/);
    expect(e.hint).toContain('the client id contains "."');
    expect(e.hint).toContain("the client secret contains characters");
    const only = await login(
      { status: 401, body: { error: "invalid_client" } },
      { clientId: "my.app", clientSecret: "plain" },
    );
    expect(only.hint).toContain('the client id contains "." that this encoding changes');
    expect(only.hint).not.toContain("secret contains");
    const s400 = await login(
      { status: 400, body: { error: "invalid_client" } },
      { clientId: "my.app", clientSecret: "s-1" },
    );
    expect(s400.hint).toBe(CLIENT_HINT);
    // With client_secret_post the encoding is not in question.
    const post = await login(
      { status: 401, body: { error: "invalid_client" } },
      { clientId: "my.app", clientSecret: "s-1", clientAuth: "client_secret_post" },
    );
    expect(post.hint).toBe(CLIENT_HINT);
  });

  it("a challenge in WWW-Authenticate is INVALID_CLIENT", async () => {
    const e = await login({
      status: 401,
      headers: { "www-authenticate": 'Basic realm="x"' },
      body: { error: "invalid_client" },
    });
    expect(e).toMatchObject({ code: "INVALID_CLIENT", status: 401, hint: CLIENT_HINT });
    expect(e.message).toBe("token request (client_credentials) refused: HTTP 401 (WWW-Authenticate challenge)");
  });

  it.each([
    [401, "INVALID_CLIENT"],
    [403, "INVALID_CLIENT"],
  ] as const)("a bare %s at login is %s", async (status, code) => {
    const e = await login({ status });
    expect(e).toMatchObject({ code, status, hint: CLIENT_HINT });
    expect(e.message).toBe(`token request (client_credentials) refused: HTTP ${status} (no OAuth error in the answer)`);
  });

  it("a 2xx without an access token is INVALID_RESPONSE; a bare 404 too, with its status", async () => {
    const e = await login({ status: 200, body: { token_type: "Bearer" } });
    expect(e.code).toBe("INVALID_RESPONSE");
    expect(e.message).toMatch(/^token request \(client_credentials\): \S/);
    expect(e.status).toBeUndefined();
    const nf = await login({ status: 404 });
    expect(nf).toMatchObject({ code: "INVALID_RESPONSE", status: 404 });
  });

  it("a refused refresh: invalid_grant and a bare 403 are the grant's death; a bare 401, the client's", async () => {
    const refresh = async (answer: Answer) => {
      const path = `/rr${++n}/token`;
      routes[path] = [{ body: { ...TOKEN, refresh_token: "rt-x" } }, answer];
      const m = manager({ tokenUrl: `${origin}${path}`, clientSecret: "plainsecret" });
      await m.getToken();
      const outer = await fails(m.refreshGrant());
      return (outer.code === "LOGIN_REQUIRED" ? outer.cause : outer) as Record<string, unknown> & Error;
    };
    const dead = await refresh({ status: 400, body: { error: "invalid_grant" } });
    expect(dead).toMatchObject({
      code: "INVALID_GRANT",
      hint: "The refresh token is no longer accepted; a new login is needed.",
    });
    expect(dead.message).toBe("token refresh refused: HTTP 400 invalid_grant");
    expect(await refresh({ status: 403 })).toMatchObject({ code: "INVALID_GRANT", status: 403, hint: CLIENT_HINT });
    expect(await refresh({ status: 401 })).toMatchObject({ code: "INVALID_CLIENT", status: 401, hint: CLIENT_HINT });
  });
});
