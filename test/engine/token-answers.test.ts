/**
 * How the vendor presets judge a token endpoint's answer (src/engine/providers/common.ts): what a 2xx must hold to be
 * a token, what is kept of it (expiry, scope, the non-secret extras), and which error code and hint each refusal
 * maps to — login, refresh and code exchange apart. The answers come from a scripted token endpoint on a real
 * loopback socket, since the emulator only answers correctly; the presets talk to it through their base URL.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTokenManager } from "../../src/engine/manager.js";
import type { InteractiveAuthorizer, NamedProfile } from "../../src/engine/types.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";

interface Answer {
  status?: number;
  body?: unknown;
  headers?: Record<string, string | string[]>;
}
interface Seen {
  method: string;
  url: URL;
  headers: IncomingMessage["headers"];
  body: string;
}

let server: Server;
let base = "";
/** Answers in order, one per request; the last one repeats. */
let script: Answer[] = [];
let seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: new URL(req.url ?? "/", base), headers: req.headers, body });
      const a = (script.length > 1 ? script.shift() : script[0]) ?? { status: 500 };
      const text = a.body === undefined ? "" : typeof a.body === "string" ? a.body : JSON.stringify(a.body);
      res.writeHead(a.status ?? 200, { "content-type": "application/json", ...a.headers });
      res.end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  script = [];
  seen = [];
});

const NOW = Date.parse("2026-12-02T12:00:00Z");
let clock = NOW;
beforeEach(() => {
  clock = NOW;
});
const runtime = { now: () => clock, sleep: async () => {}, env: {} };
const RETRY = { retry: { attempts: 1, baseDelayMs: 1 } };

function identity(extra: Partial<NamedProfile> = {}) {
  const profile: NamedProfile = {
    name: "id",
    provider: "hpe-identity",
    baseUrl: base,
    clientId: "client-1",
    clientSecret: "identity-secret-123456",
    ...extra,
  };
  const store = new MemoryTokenStore();
  return Object.assign(createTokenManager({ profile, store, runtime, ...RETRY }), { store });
}

/** An opaque (non-JWT) token, so that expires_in alone decides the expiry. */
const opaque = "opaque-access-token-0123456789abcdef";

async function fails(p: Promise<unknown>): Promise<Record<string, unknown> & Error> {
  return p.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e as Record<string, unknown> & Error,
  );
}

describe("a 2xx is a token only when it says so", () => {
  it.each([
    ["a JSON array", []],
    ["JSON null", null],
    ["a JSON string", "just text"],
    ["a JSON number", 42],
  ])("%s: INVALID_RESPONSE, no JSON object", async (_n, body) => {
    script = [{ body: JSON.stringify(body) }];
    const e = await fails(identity().getToken());
    expect(e).toMatchObject({ code: "INVALID_RESPONSE", status: 200, provider: "hpe-identity", profile: "id" });
    expect(e.message).toBe("HPE Identity token request: the token endpoint answered without a JSON object");
  });

  it.each([
    ["no access_token", { token_type: "Bearer" }],
    ["an empty access_token", { access_token: "" }],
    ["a number as access_token", { access_token: 12345 }],
  ])("%s: INVALID_RESPONSE", async (_n, body) => {
    script = [{ body }];
    const e = await fails(identity().getToken());
    expect(e).toMatchObject({ code: "INVALID_RESPONSE", status: 200 });
    expect(e.message).toBe("HPE Identity token request: the token response has no access_token");
  });

  it.each([
    ["mac", "mac"],
    ["a number", 7],
    ["DPoP", "DPoP"],
  ])("token_type %s is refused (only Bearer is used)", async (_n, tokenType) => {
    script = [{ body: { access_token: opaque, token_type: tokenType } }];
    const e = await fails(identity().getToken());
    expect(e).toMatchObject({ code: "INVALID_RESPONSE", status: 200 });
    expect(e.message).toBe(
      `HPE Identity token request: unsupported token_type "${String(tokenType)}" (only Bearer is supported)`,
    );
  });

  it("a long token_type is quoted in 20 characters at most", async () => {
    script = [{ body: { access_token: opaque, token_type: "x".repeat(50) } }];
    const e = await fails(identity().getToken());
    expect(e.message).toContain(`"${"x".repeat(20)}"`);
    expect(e.message).not.toContain("x".repeat(21));
  });

  it.each(["Bearer", "bearer", "BEARER", undefined])("token_type %s is a Bearer token", async (tokenType) => {
    script = [{ body: { access_token: opaque, ...(tokenType ? { token_type: tokenType } : {}), expires_in: 600 } }];
    const t = await identity().getToken();
    expect(t.accessToken).toBe(opaque);
    expect(t.tokenType).toBe("Bearer");
  });
});

describe("what is kept of a token answer", () => {
  const life = async (expires: unknown) => {
    script = [
      {
        body: { access_token: opaque, token_type: "bearer", ...(expires === undefined ? {} : { expires_in: expires }) },
      },
    ];
    const t = await identity().getToken();
    return (t.expiresAt.getTime() - NOW) / 1000;
  };

  it("expires_in as a number or as a string of digits; anything else, the documented default (3599 s)", async () => {
    expect(await life(600)).toBe(600);
    expect(await life("600")).toBe(600);
    expect(await life(1.5)).toBe(1.5);
    expect(await life("600s")).toBe(3599);
    expect(await life("-600")).toBe(3599);
    expect(await life(0)).toBe(3599);
    expect(await life(-5)).toBe(3599);
    expect(await life(undefined)).toBe(3599);
    expect(await life(true)).toBe(3599);
    // Never past the documented maximum (3600 s).
    expect(await life(86_400)).toBe(3600);
    expect(await life("86400")).toBe(3600);
  });

  it("scope when it is a string; the non-secret extras of simple types; nothing that names a credential", async () => {
    script = [
      {
        body: {
          access_token: opaque,
          token_type: "bearer",
          expires_in: 3599,
          scope: "read write",
          refresh_token: "",
          id_token: "header.payload.sig",
          cc_id: "cc-1",
          ga_id: 77,
          enabled: true,
          eu_id: null,
          zip_authorities: "H4sIAAAA",
          nested: { a: 1 },
          list: [1, 2],
          session_state: "sess-1",
          auth_code: "code-1",
          client_secret: "leak-1",
          user_password: "leak-2",
          csrf_cookie: "leak-3",
          other_token: "leak-4",
        },
      },
    ];
    const m = identity();
    const t = await m.getToken();
    expect(t.scope).toBe("read write");
    const rec = await m.store.get(m.key);
    expect(rec?.meta).toEqual({ cc_id: "cc-1", ga_id: 77, enabled: true, eu_id: null, zip_authorities: "H4sIAAAA" });
    expect(rec?.refreshToken).toBeUndefined();
    expect(rec?.scope).toBe("read write");
  });

  it("a scope that is not a string is not kept; no extras, no meta", async () => {
    script = [{ body: { access_token: opaque, token_type: "bearer", scope: ["read"], expires_in: 60 } }];
    const m = identity();
    const t = await m.getToken();
    expect(t.scope).toBeUndefined();
    const rec = await m.store.get(m.key);
    expect(rec?.scope).toBeUndefined();
    expect(rec?.meta).toBeUndefined();
  });

  it("`not-before-policy` is kept as not_before_policy; when both spellings come, each is kept as it came", async () => {
    script = [{ body: { access_token: opaque, "not-before-policy": 5 } }];
    let m = identity();
    await m.getToken();
    expect((await m.store.get(m.key))?.meta).toEqual({ not_before_policy: 5 });
    script = [{ body: { access_token: opaque, "not-before-policy": 5, not_before_policy: 6 } }];
    m = identity();
    await m.getToken();
    expect((await m.store.get(m.key))?.meta).toEqual({ "not-before-policy": 5, not_before_policy: 6 });
    script = [{ body: { access_token: opaque, not_before_policy: 6 } }];
    m = identity();
    await m.getToken();
    expect((await m.store.get(m.key))?.meta).toEqual({ not_before_policy: 6 });
  });
});

describe("refusals of a login (client credentials)", () => {
  const CLIENT_HINT = "Check the client id and client secret (they may have expired or been reset).";
  const LOGIN_HINT = "Check the username and password.";
  it.each([
    // [status, body, code, oauthError, hint]
    [401, undefined, "INVALID_CLIENT", undefined, CLIENT_HINT],
    [401, { error: "unauthorized" }, "INVALID_CLIENT", "unauthorized", CLIENT_HINT],
    [400, { error: "invalid_client" }, "INVALID_CLIENT", "invalid_client", CLIENT_HINT],
    [401, { error: "invalid_grant" }, "INVALID_GRANT", "invalid_grant", LOGIN_HINT],
    [401, { error: "access_denied" }, "ACCESS_DENIED", "access_denied", undefined],
    [403, { error: "access_denied" }, "ACCESS_DENIED", "access_denied", undefined],
    [400, { error: "invalid_request" }, "INVALID_GRANT", "invalid_request", LOGIN_HINT],
    [400, undefined, "INVALID_GRANT", undefined, LOGIN_HINT],
    [403, undefined, "INVALID_GRANT", undefined, LOGIN_HINT],
    [422, { error: "invalid_grant" }, "INVALID_GRANT", "invalid_grant", LOGIN_HINT],
    [404, { error: "not_found" }, "UNAUTHORIZED", "not_found", undefined],
    [409, undefined, "UNAUTHORIZED", undefined, undefined],
    [400, { error: 17 }, "INVALID_GRANT", undefined, LOGIN_HINT],
    [400, [{ error: "invalid_client" }], "INVALID_GRANT", undefined, LOGIN_HINT],
  ] as const)("HTTP %s %j → %s", async (status, body, code, oauthError, hint) => {
    script = [{ status, body }];
    const e = await fails(identity().getToken());
    expect(e.code).toBe(code);
    expect(e.status).toBe(status);
    expect(e.provider).toBe("hpe-identity");
    expect(e.profile).toBe("id");
    expect(e.oauthError).toBe(oauthError);
    expect(e.hint).toBe(hint);
    expect(e.message).toMatch(new RegExp(`^HPE Identity token request refused: HTTP ${status}`));
    // A refusal is the server's verdict: asked once.
    expect(seen).toHaveLength(1);
  });

  it("the message carries the server's words, redacted; none when the body is empty", async () => {
    script = [
      { status: 401, body: { error: "invalid_client", error_description: "bad secret identity-secret-123456" } },
    ];
    const e = await fails(identity().getToken());
    expect(e.message).toMatch(/^HPE Identity token request refused: HTTP 401: .*bad secret/);
    expect(e.message).not.toContain("identity-secret-123456");
    script = [{ status: 401 }];
    expect((await fails(identity().getToken())).message).toBe("HPE Identity token request refused: HTTP 401");
  });

  it("an OAuth error code is kept to 64 characters", async () => {
    script = [{ status: 400, body: { error: `e${"x".repeat(99)}` } }];
    const e = await fails(identity().getToken());
    expect(e.oauthError).toBe(`e${"x".repeat(63)}`);
  });
});

describe("refusals of a refresh and of a code exchange (TechPulse)", () => {
  const authorizer: InteractiveAuthorizer = async (req) => ({
    code: "the-one-time-code-987654",
    redirectUri: req.redirectUri ?? "http://localhost:8765/callback",
  });
  function techpulse() {
    const profile: NamedProfile = {
      name: "tp",
      provider: "techpulse",
      baseUrl: base,
      clientId: "tp-client",
      clientSecret: "tp-secret-abcdef123456",
      redirectUri: "http://localhost:8765/callback",
    };
    return createTokenManager({ profile, store: new MemoryTokenStore(), runtime, authorizer, ...RETRY });
  }
  const REFRESH_HINT = "The refresh token is no longer accepted; a new login is needed.";
  const CODE_HINT =
    "The authorization code was refused (expired, already used, or issued for another redirect URI): log in again.";

  it.each([
    [400, { error: "invalid_grant" }, "INVALID_GRANT", CODE_HINT],
    [400, undefined, "INVALID_GRANT", CODE_HINT],
    [401, undefined, "INVALID_CLIENT", "Check the client id and client secret (they may have expired or been reset)."],
    [401, { error: "invalid_grant" }, "INVALID_GRANT", CODE_HINT],
    [403, undefined, "INVALID_GRANT", CODE_HINT],
  ] as const)("code exchange: HTTP %s %j → %s", async (status, body, code, hint) => {
    script = [{ status, body: body && { ...body, error_description: "code the-one-time-code-987654 rejected" } }];
    const e = await fails(techpulse().getToken());
    expect(e).toMatchObject({ code, status, provider: "techpulse", hint });
    expect(e.message).toMatch(new RegExp(`^TechPulse code exchange refused: HTTP ${status}`));
    expect(e.message).not.toContain("the-one-time-code-987654");
    expect(seen).toHaveLength(1);
    expect(Object.fromEntries(new URLSearchParams(seen[0]!.body))).toEqual({
      grant_type: "authorization_code",
      code: "the-one-time-code-987654",
      redirect_uri: "http://localhost:8765/callback",
      client_id: "tp-client",
      client_secret: "tp-secret-abcdef123456",
    });
  });

  it.each([
    [400, { error: "invalid_grant" }, "INVALID_GRANT", REFRESH_HINT],
    [400, undefined, "INVALID_GRANT", REFRESH_HINT],
    // In a refresh a bare 401 is the refresh token's death, not the client's.
    [401, undefined, "INVALID_GRANT", REFRESH_HINT],
    [403, undefined, "INVALID_GRANT", REFRESH_HINT],
    [
      401,
      { error: "invalid_client" },
      "INVALID_CLIENT",
      "Check the client id and client secret (they may have expired or been reset).",
    ],
    [404, undefined, "UNAUTHORIZED", undefined],
  ] as const)("refresh: HTTP %s %j → %s", async (status, body, code, hint) => {
    script = [
      { body: { access_token: opaque, token_type: "Bearer", expires_in: 1800, refresh_token: "refresh-1-xyz" } },
      { status, body },
    ];
    const m = techpulse();
    await m.getToken();
    clock += 1800_000;
    const outer = await fails(m.refreshGrant());
    // A dead grant is LOGIN_REQUIRED for `keepalive`; the provider's verdict is its cause.
    const e = (outer.code === "LOGIN_REQUIRED" ? outer.cause : outer) as Record<string, unknown> & Error;
    expect(outer.code).toBe(code === "INVALID_CLIENT" ? "INVALID_CLIENT" : "LOGIN_REQUIRED");
    expect(e).toMatchObject({ code, status, provider: "techpulse", hint });
    expect(e.message).toMatch(new RegExp(`^TechPulse token refresh refused: HTTP ${status}`));
    expect(seen).toHaveLength(2);
    expect(seen[1]!.headers.authorization).toBe(
      `Basic ${Buffer.from("tp-client:tp-secret-abcdef123456").toString("base64")}`,
    );
    expect(Object.fromEntries(new URLSearchParams(seen[1]!.body))).toEqual({
      grant_type: "refresh_token",
      refresh_token: "refresh-1-xyz",
    });
  });

  it("the secret-expiry warnings: none without a date, a reminder within 30 days, then expired", async () => {
    const status = async (createdAt?: string) => {
      const profile: NamedProfile = {
        name: "tp",
        provider: "techpulse",
        baseUrl: base,
        clientId: "tp-client",
        clientSecret: "tp-secret-abcdef123456",
        ...(createdAt ? { clientSecretCreatedAt: createdAt } : {}),
      };
      return (await createTokenManager({ profile, store: new MemoryTokenStore(), runtime }).status()).warnings;
    };
    // NOW is 2026-12-02T12:00Z: a secret made on 2026-01-01 expires on 2027-01-01, in 30 days.
    const soon = (date: string, days: number) =>
      `the TechPulse client secret expires on ${date} (in ${days} days): reset it in the HP Developers portal and update the profile`;
    const expired = (date: string) =>
      `the TechPulse client secret expired on ${date} (365 days after creation): reset it in the HP Developers portal`;
    expect(await status()).toEqual([]);
    expect(await status("2026-06-01")).toEqual([]);
    expect(await status("2026-01-02")).toEqual([]); // 30.5 days left
    clock = Date.parse("2026-12-03T00:00:00Z"); // exactly 30 days left
    expect(await status("2026-01-02")).toEqual([soon("2027-01-02", 30)]);
    clock = NOW;
    expect(await status("2026-01-01")).toEqual([soon("2027-01-01", 30)]); // 29.5 days, rounded up
    expect(await status("2025-12-03")).toEqual([soon("2026-12-03", 1)]);
    clock = Date.parse("2026-12-02T00:00:00Z") - 1;
    expect(await status("2025-12-02")).toEqual([soon("2026-12-02", 1)]);
    clock = Date.parse("2026-12-02T00:00:00Z");
    expect(await status("2025-12-02")).toEqual([expired("2026-12-02")]);
    clock = NOW;
    expect(await status("2025-12-02")).toEqual([expired("2026-12-02")]);
    expect(await status("2024-01-01")).toEqual([expired("2024-12-31")]);
  });
});

describe("Aruba Central's three steps, answer by answer", () => {
  function aruba(extra: Partial<NamedProfile> = {}) {
    const profile: NamedProfile = {
      name: "ar",
      provider: "aruba-central",
      baseUrl: base,
      clientId: "ar-client",
      clientSecret: "ar-secret-abcdef123456",
      username: "ar-user",
      password: "ar-password-123456",
      customerId: "cust-1",
      ...extra,
    };
    const store = new MemoryTokenStore();
    return Object.assign(createTokenManager({ profile, store, runtime, ...RETRY }), { store });
  }
  const COOKIES = { "set-cookie": ["csrftoken=csrf-value-1; Path=/", "session=session-value-1; Path=/; HttpOnly"] };
  const STEP1: Answer = { body: { status: true }, headers: COOKIES };
  const STEP2: Answer = { body: { auth_code: "aruba-code-123456" } };
  const PAIR = { access_token: opaque, refresh_token: "ar-refresh-1", token_type: "bearer", expires_in: 7200 };
  /** The budget is claimed: the next login is refused locally, nothing sent. */
  async function claimed(m: ReturnType<typeof aruba>) {
    expect((await m.status()).nextLoginAllowedAt?.getTime()).toBe(NOW + 1800_000);
    const before = seen.length;
    expect((await fails(m.login())).code).toBe("LOGIN_BUDGET_EXHAUSTED");
    expect(seen.length).toBe(before);
  }
  async function released(m: ReturnType<typeof aruba>) {
    expect((await m.status()).nextLoginAllowedAt).toBeUndefined();
  }

  it("cookies as Set-Cookie gives them: attributes dropped, spaces trimmed, nameless ones ignored", async () => {
    script = [
      {
        body: {},
        headers: { "set-cookie": ["junk", "=orphan", " session = s-1 ; Path=/", "csrftoken=c-1=x; HttpOnly"] },
      },
      STEP2,
      { body: PAIR },
    ];
    const m = aruba();
    const t = await m.getToken();
    expect(t.accessToken).toBe(opaque);
    expect(seen[1]!.headers.cookie).toBe("session=s-1");
    expect(seen[1]!.headers["x-csrf-token"]).toBe("c-1=x");
    expect(JSON.parse(seen[2]!.body)).toEqual({
      client_id: "ar-client",
      client_secret: "ar-secret-abcdef123456",
      grant_type: "authorization_code",
      code: "aruba-code-123456",
    });
    await claimed(m);
  });

  it.each([
    ["no cookies", {}],
    ["only the session", { "set-cookie": "session=s-1" }],
    ["only the CSRF token", { "set-cookie": "csrftoken=c-1" }],
    ["empty values", { "set-cookie": ["session=", "csrftoken="] }],
  ])("step 1 with %s: INVALID_RESPONSE, nothing spent", async (_n, headers) => {
    script = [{ body: {}, headers }];
    const m = aruba();
    const e = await fails(m.getToken());
    expect(e).toMatchObject({ code: "INVALID_RESPONSE", status: 200, provider: "aruba-central", profile: "ar" });
    expect(e.message).toBe("Aruba login (step 1): no session/csrftoken cookies in the answer");
    expect(seen).toHaveLength(1);
    await released(m);
  });

  it.each([
    ["with Retry-After", { "retry-after": "120" }, NOW + 120_000],
    ["with Retry-After 0", { "retry-after": "0" }, NOW + 1800_000],
    ["without Retry-After", {}, NOW + 1800_000],
  ])("step 1 refused by the budget (429 %s): LOGIN_BUDGET_EXHAUSTED, the claim kept", async (_n, headers, at) => {
    script = [{ status: 429, body: { error: "rate_limit_exceeded" }, headers }];
    const m = aruba();
    const e = await fails(m.getToken());
    expect(e).toMatchObject({ code: "LOGIN_BUDGET_EXHAUSTED", status: 429, provider: "aruba-central", profile: "ar" });
    expect((e.retryAt as Date).getTime()).toBe(at);
    expect(e.message).toBe(
      `Aruba Central refused the login: one new token per client id per 30 minutes (next login allowed at ${new Date(at).toISOString()})`,
    );
    expect(e.hint).toBe(
      "Another process or tool created a token for this client id recently; wait, or import a token pair from the Central UI.",
    );
    expect(seen).toHaveLength(1);
    await claimed(m);
  });

  it("step 2 refused by the budget: the same, for a new authorization code", async () => {
    script = [STEP1, { status: 429, body: { error: "rate_limit_exceeded" }, headers: { "retry-after": "60" } }];
    const m = aruba();
    const e = await fails(m.getToken());
    expect(e.code).toBe("LOGIN_BUDGET_EXHAUSTED");
    expect(e.message).toMatch(/^Aruba Central refused a new authorization code: /);
    expect((e.retryAt as Date).getTime()).toBe(NOW + 60_000);
    expect(seen).toHaveLength(2);
    await claimed(m);
  });

  it("step 2 sends the session and CSRF values, and a refusal that echoes them is redacted", async () => {
    script = [
      STEP1,
      { status: 401, body: { error: "unauthorized", error_description: "bad session-value-1 csrf-value-1" } },
    ];
    const m = aruba();
    const e = await fails(m.getToken());
    expect(e).toMatchObject({ code: "INVALID_CLIENT", status: 401, oauthError: "unauthorized" });
    expect(e.message).toMatch(/^Aruba authorization code \(step 2\) refused: HTTP 401: /);
    expect(e.message).not.toContain("session-value-1");
    expect(e.message).not.toContain("csrf-value-1");
    expect(seen[1]!.headers.cookie).toBe("session=session-value-1");
    expect(seen[1]!.headers["x-csrf-token"]).toBe("csrf-value-1");
    expect(Object.fromEntries(seen[1]!.url.searchParams)).toEqual({
      client_id: "ar-client",
      response_type: "code",
      scope: "all",
    });
    expect(JSON.parse(seen[1]!.body)).toEqual({ customer_id: "cust-1" });
    await released(m);
  });

  it.each([
    ["no auth_code", {}],
    ["an empty auth_code", { auth_code: "" }],
    ["a number", { auth_code: 5 }],
  ])("step 2 with %s: INVALID_RESPONSE, nothing spent", async (_n, body) => {
    script = [STEP1, { body }];
    const m = aruba();
    const e = await fails(m.getToken());
    expect(e).toMatchObject({ code: "INVALID_RESPONSE", provider: "aruba-central", profile: "ar" });
    expect(e.message).toBe("Aruba authorization code (step 2): no auth_code in the answer");
    expect(seen).toHaveLength(2);
    await released(m);
  });

  it("step 3 answering 2xx without a token: INVALID_RESPONSE, and the claim stays (a token may exist)", async () => {
    script = [STEP1, STEP2, { body: { token_type: "bearer" } }];
    const m = aruba();
    const e = await fails(m.getToken());
    expect(e).toMatchObject({ code: "INVALID_RESPONSE", status: 200 });
    expect(e.message).toBe("Aruba token (step 3): the token response has no access_token");
    await claimed(m);
  });

  it("step 3 answering an unreadable 2xx: ANSWER_LOST with the budget advice, the claim stays", async () => {
    script = [STEP1, STEP2, { body: "{not json" }];
    const m = aruba();
    const e = await fails(m.getToken());
    expect(e.code).toBe("ANSWER_LOST");
    expect(e.hint).toBe(
      "Central may have created the token and counted it against its one-login-per-30-minutes budget, so the budget stays claimed for 30 minutes; then run `hpauth login` again, or import a token pair from the Central UI now (`hpauth login --import`).",
    );
    expect(seen).toHaveLength(3);
    await claimed(m);
  });

  it("step 3 refused (400, the code echoed): INVALID_GRANT with the code hint, redacted, nothing spent", async () => {
    script = [
      STEP1,
      STEP2,
      { status: 400, body: { error: "invalid_grant", error_description: "aruba-code-123456 expired" } },
    ];
    const m = aruba();
    const e = await fails(m.getToken());
    expect(e).toMatchObject({ code: "INVALID_GRANT", status: 400 });
    expect(e.hint).toBe(
      "The authorization code was refused (expired, already used, or issued for another redirect URI): log in again.",
    );
    expect(e.message).toMatch(/^Aruba token \(step 3\) refused: HTTP 400: /);
    expect(e.message).not.toContain("aruba-code-123456");
    await released(m);
  });

  it("step 3 failing on the server (5xx): SERVER_ERROR, nothing spent", async () => {
    script = [STEP1, STEP2, { status: 500, body: { error: "server_error" } }];
    const m = aruba();
    const e = await fails(m.getToken());
    expect(e.code).toBe("SERVER_ERROR");
    await released(m);
  });

  it("a secret that cannot be read fails before step 1: nothing sent, nothing spent", async () => {
    const m = aruba({ clientSecret: undefined, clientSecretEnv: "HPAUTH_TEST_NO_SUCH_VAR" });
    const e = await fails(m.getToken());
    expect(e.code).toBe("SECRET_UNAVAILABLE");
    expect(seen).toHaveLength(0);
    const p = aruba({ password: undefined, passwordEnv: "HPAUTH_TEST_NO_SUCH_VAR" });
    expect((await fails(p.getToken())).code).toBe("SECRET_UNAVAILABLE");
    expect(seen).toHaveLength(0);
  });

  it("refresh: a query-string POST without a body; a refusal is the grant's death", async () => {
    script = [
      STEP1,
      STEP2,
      { body: PAIR },
      { body: { ...PAIR, access_token: "opaque-2", refresh_token: "ar-refresh-2" } },
    ];
    const m = aruba();
    await m.getToken();
    clock += 7200_000;
    const t = await m.getToken();
    expect(t).toMatchObject({ source: "refresh", accessToken: "opaque-2" });
    const r = seen[3]!;
    expect(r.method).toBe("POST");
    expect(r.url.pathname).toBe("/oauth2/token");
    expect(Object.fromEntries(r.url.searchParams)).toEqual({
      client_id: "ar-client",
      client_secret: "ar-secret-abcdef123456",
      grant_type: "refresh_token",
      refresh_token: "ar-refresh-1",
    });
    expect(r.body).toBe("");
    expect((await m.store.get(m.key))?.refreshToken).toBe("ar-refresh-2");
    script = [{ status: 400, body: { error: "invalid_grant", error_description: "Invalid refresh_token" } }];
    clock += 7200_000;
    const outer = await fails(m.refreshGrant());
    expect(outer.cause).toMatchObject({
      code: "INVALID_GRANT",
      status: 400,
      hint: "The refresh token is no longer accepted; a new login is needed.",
    });
    expect((outer.cause as Error).message).toMatch(/^Aruba token refresh refused: HTTP 400/);
  });
});
