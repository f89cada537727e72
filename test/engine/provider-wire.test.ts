/**
 * The wire contract of each vendor preset (docs: /spec/providers.md, seeds 000–004), request by request: the URL,
 * method, headers, client authentication and the exact form or JSON fields the engine sends to the emulator, recorded
 * on the way (the injected fetch) and answered by the real emulator over a socket. A field too many, one missing or
 * spelled differently breaks the real service even where the emulator is lenient, so the fields are compared whole.
 */
import { describe, expect, it } from "vitest";
import type { AuthorizationRequest, InteractiveAuthorizer } from "../../src/engine/types.js";
import { emulatorUser, useHarness } from "./helpers.js";

const h = useHarness();

interface Sent {
  url: URL;
  method: string;
  headers: Headers;
  body: string;
}

/** Every request the engine sends, recorded on the way to the emulator. */
function recording(): { fetch: typeof fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    fetch: async (input, init) => {
      sent.push({
        url: new URL(String(input instanceof Request ? input.url : input)),
        method: init?.method ?? "GET",
        headers: new Headers(init?.headers),
        body: typeof init?.body === "string" ? init.body : init?.body == null ? "" : String(init.body),
      });
      return fetch(input, init);
    },
  };
}

const form = (s: Sent) => Object.fromEntries(new URLSearchParams(s.body));
const query = (s: Sent) => Object.fromEntries(s.url.searchParams);
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`, "utf8").toString("base64")}`;
const mediaType = (s: Sent) => s.headers.get("content-type")?.split(";")[0]?.trim();

describe("techpulse (seed 000)", () => {
  it("authorize URL with its five parameters; code exchange with the secret in the body; refresh with Basic", async () => {
    const info = h.emu.providers.techpulse;
    const rec = recording();
    const asked: URL[] = [];
    const user = emulatorUser(h.emu, "techpulse");
    const authorizer: InteractiveAuthorizer = (req: AuthorizationRequest) =>
      user({
        ...req,
        authorizationUrl: (p) => {
          const u = req.authorizationUrl(p);
          asked.push(u);
          return u;
        },
      });
    const m = h.manager("techpulse", {}, { authorizer, runtime: { ...h.runtime, fetch: rec.fetch } });
    const t = await m.getToken();
    expect(t.scope).toBe("Read");

    expect(asked).toHaveLength(1);
    const a = asked[0]!;
    expect(`${a.origin}${a.pathname}`).toBe(`${info.baseUrl}/oauth/v1/authorize`);
    const aq = Object.fromEntries(a.searchParams);
    expect(Object.keys(aq).sort()).toEqual(["client_id", "redirect_uri", "response_type", "scope", "state"]);
    expect(aq).toMatchObject({
      client_id: info.clientId,
      redirect_uri: info.redirectUri,
      response_type: "code",
      scope: "Read",
    });
    expect(aq.state?.length).toBeGreaterThanOrEqual(16);

    expect(rec.sent).toHaveLength(1);
    const code = rec.sent[0]!;
    expect(code.method).toBe("POST");
    expect(code.url.href).toBe(`${info.baseUrl}/oauth/v1/token`);
    expect(mediaType(code)).toBe("application/x-www-form-urlencoded");
    expect(code.headers.get("accept")).toBe("application/json");
    expect(code.headers.get("authorization")).toBeNull();
    const cf = form(code);
    expect(Object.keys(cf).sort()).toEqual(["client_id", "client_secret", "code", "grant_type", "redirect_uri"]);
    expect(cf).toMatchObject({
      grant_type: "authorization_code",
      redirect_uri: info.redirectUri,
      client_id: info.clientId,
      client_secret: info.clientSecret,
    });
    expect(cf.code).not.toBe("");

    const before = await m.store.get(m.key);
    await h.advance(1800);
    const t2 = await m.getToken();
    expect(t2.source).toBe("refresh");
    expect(rec.sent).toHaveLength(2);
    const refresh = rec.sent[1]!;
    expect(refresh.method).toBe("POST");
    expect(refresh.url.href).toBe(`${info.baseUrl}/oauth/v1/token`);
    expect(mediaType(refresh)).toBe("application/x-www-form-urlencoded");
    expect(refresh.headers.get("accept")).toBe("application/json");
    expect(refresh.headers.get("authorization")).toBe(basic(info.clientId!, info.clientSecret!));
    expect(form(refresh)).toEqual({ grant_type: "refresh_token", refresh_token: before?.refreshToken });
    // Rotation: the new refresh token is kept.
    expect((await m.store.get(m.key))?.refreshToken).not.toBe(before?.refreshToken);
  });

  it("a profile scope and a fixed redirect URI are what the authorization URL and the code exchange carry", async () => {
    const info = h.emu.providers.techpulse;
    const asked: URL[] = [];
    const rec = recording();
    const user = emulatorUser(h.emu, "techpulse");
    const authorizer: InteractiveAuthorizer = (req) => {
      expect(req.pkce).toBe(false);
      expect(req.redirectUri).toBe(info.redirectUri);
      return user({
        ...req,
        authorizationUrl: (p) => {
          const u = req.authorizationUrl(p);
          asked.push(u);
          return u;
        },
      });
    };
    const m = h.manager("techpulse", { scope: "Read" }, { authorizer, runtime: { ...h.runtime, fetch: rec.fetch } });
    await m.getToken();
    expect(asked[0]!.searchParams.get("scope")).toBe("Read");
    expect(asked[0]!.searchParams.has("code_challenge")).toBe(false);
    expect(form(rec.sent[0]!).redirect_uri).toBe(info.redirectUri);
  });

  it("a refused code exchange is INVALID_GRANT with the code-exchange hint, the code never in the message", async () => {
    // The emulator refuses a code sent with another redirect_uri than the authorization request's.
    const info = h.emu.providers.techpulse;
    const user = emulatorUser(h.emu, "techpulse");
    let code = "";
    const authorizer: InteractiveAuthorizer = async (req) => {
      const r = await user(req);
      code = r.code;
      return { ...r, redirectUri: `${r.redirectUri}/other` };
    };
    const err = await h
      .manager("techpulse", {}, { authorizer })
      .getToken()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "INVALID_GRANT", status: 400, provider: "techpulse" });
    expect((err as { hint: string }).hint).toBe(
      "The authorization code was refused (expired, already used, or issued for another redirect URI): log in again.",
    );
    expect((err as Error).message).toMatch(/^TechPulse code exchange refused: HTTP 400/);
    expect(code).not.toBe("");
    expect((err as Error).message).not.toContain(code);
    expect((err as Error).message).not.toContain(info.clientSecret!);
  });

  it("a refused refresh is INVALID_GRANT with the refresh hint", async () => {
    const m = h.manager("techpulse");
    await m.getToken();
    await h.emu.admin.revoke("techpulse");
    const rec = await m.store.get(m.key);
    const outer = await m.refreshGrant().catch((x: unknown) => x);
    expect(outer).toMatchObject({ code: "LOGIN_REQUIRED" });
    // The provider's own verdict, which the manager wraps.
    const e = (outer as { cause: unknown }).cause;
    expect(e).toMatchObject({ code: "INVALID_GRANT", provider: "techpulse" });
    expect((e as { hint: string }).hint).toBe("The refresh token is no longer accepted; a new login is needed.");
    expect((e as Error).message).toMatch(/^TechPulse token refresh refused: HTTP 40[01]/);
    expect((e as Error).message).not.toContain(rec!.refreshToken!);
  });
});

describe("wxp (seed 001)", () => {
  it("a password grant by the public client “WXP Collaboration”, form-encoded; no refresh token kept", async () => {
    const info = h.emu.providers.wxp;
    const rec = recording();
    const m = h.manager("wxp", {}, { runtime: { ...h.runtime, fetch: rec.fetch } });
    expect(m.profile.clientId).toBe("WXP Collaboration");
    const t = await m.getToken();
    expect(rec.sent).toHaveLength(1);
    const s = rec.sent[0]!;
    expect(s.method).toBe("POST");
    expect(s.url.href).toBe(`${info.baseUrl}/auth/login`);
    expect(mediaType(s)).toBe("application/x-www-form-urlencoded");
    expect(s.headers.get("authorization")).toBeNull();
    expect(form(s)).toEqual({
      grant_type: "password",
      client_id: "WXP Collaboration",
      username: info.username,
      password: info.password,
    });
    // The space is form-encoded, never sent raw.
    expect(s.body).not.toContain("WXP Collaboration");
    expect(t.scope).toBe("email profile");
    const stored = await m.store.get(m.key);
    expect(stored?.refreshToken).toBeUndefined();
    // Keycloak's `not-before-policy` is kept under the schema's spelling; session_state (a session id) is not kept,
    // like every extra whose name says it could be a credential.
    expect(stored?.meta).toEqual({ not_before_policy: expect.any(Number), refresh_expires_in: expect.any(Number) });
    // No refresh: status says so, and a forced renewal is a new login.
    expect((await m.getToken({ forceRefresh: true })).source).toBe("login");
    expect((await h.counters("wxp")).refreshes).toBe(0);
  });

  it("a wrong password is INVALID_GRANT with the credentials hint; the password is not in the message", async () => {
    const err = await h
      .manager("wxp", { password: "not-the-password-42" })
      .getToken()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "INVALID_GRANT", provider: "wxp", oauthError: "invalid_grant" });
    expect((err as { hint: string }).hint).toBe("Check the username and password.");
    expect((err as Error).message).toMatch(/^WXP login refused: HTTP 401/);
    expect((err as Error).message).not.toContain("not-the-password-42");
  });

  it("another client id is refused as INVALID_CLIENT with the client hint", async () => {
    const err = await h
      .manager("wxp", { clientId: "Someone Else" })
      .getToken()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "INVALID_CLIENT", provider: "wxp" });
    expect((err as { hint: string }).hint).toBe(
      "Check the client id and client secret (they may have expired or been reset).",
    );
  });
});

describe("greenlake (seed 002)", () => {
  it("client_secret_post by default: id and secret in the form body at /as/token.oauth2, no Authorization", async () => {
    const info = h.emu.providers.greenlake;
    const rec = recording();
    const m = h.manager("greenlake", {}, { runtime: { ...h.runtime, fetch: rec.fetch } });
    expect(m.profile.clientAuth).toBe("client_secret_post");
    await m.getToken();
    const s = rec.sent[0]!;
    expect(rec.sent).toHaveLength(1);
    expect(s.method).toBe("POST");
    expect(s.url.href).toBe(`${info.baseUrl}/as/token.oauth2`);
    expect(mediaType(s)).toBe("application/x-www-form-urlencoded");
    expect(s.headers.get("accept")).toBe("application/json");
    expect(s.headers.get("authorization")).toBeNull();
    expect(form(s)).toEqual({
      grant_type: "client_credentials",
      client_id: info.clientId,
      client_secret: info.clientSecret,
    });
  });

  it("client_secret_basic: the raw id:secret in a Basic header and only the grant type in the body", async () => {
    const info = h.emu.providers.greenlake;
    const rec = recording();
    await h
      .manager("greenlake", { clientAuth: "client_secret_basic" }, { runtime: { ...h.runtime, fetch: rec.fetch } })
      .getToken();
    const s = rec.sent[0]!;
    expect(s.headers.get("authorization")).toBe(basic(info.clientId!, info.clientSecret!));
    expect(form(s)).toEqual({ grant_type: "client_credentials" });
  });

  it("extra token parameters are sent beside the grant's own", async () => {
    const rec = recording();
    await h
      .manager(
        "greenlake",
        { tokenParams: { audience: "external_api" } },
        { runtime: { ...h.runtime, fetch: rec.fetch } },
      )
      .getToken();
    expect(form(rec.sent[0]!)).toMatchObject({ grant_type: "client_credentials", audience: "external_api" });
  });

  it("a wrong secret is INVALID_CLIENT with the client hint, not retried", async () => {
    const err = await h
      .manager("greenlake", { clientSecret: "wrong-greenlake-secret" })
      .getToken()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "INVALID_CLIENT", provider: "greenlake", status: 401 });
    expect((err as { hint: string }).hint).toBe(
      "Check the client id and client secret (they may have expired or been reset).",
    );
    expect((err as Error).message).toMatch(/^GreenLake token request refused: HTTP 401/);
    expect((err as Error).message).not.toContain("wrong-greenlake-secret");
    expect((await h.counters("greenlake")).tokenRequests).toBe(1);
  });
});

describe("hpe-identity (seed 004)", () => {
  it("HTTP Basic with the raw id:secret, and grant_type plus the same client_id in the form body", async () => {
    const info = h.emu.providers["hpe-identity"];
    const rec = recording();
    const m = h.manager("hpe-identity", {}, { runtime: { ...h.runtime, fetch: rec.fetch } });
    const t = await m.getToken();
    const s = rec.sent[0]!;
    expect(rec.sent).toHaveLength(1);
    expect(s.method).toBe("POST");
    expect(s.url.href).toBe(`${info.baseUrl}/services/oauth/token`);
    expect(mediaType(s)).toBe("application/x-www-form-urlencoded");
    expect(s.headers.get("authorization")).toBe(basic(info.clientId!, info.clientSecret!));
    expect(form(s)).toEqual({ grant_type: "client_credentials", client_id: info.clientId });
    expect(t.scope).toBe("read write");
    // The non-secret extras are kept; nothing that could be a credential (jti is an id, kept; no *token* field).
    const meta = (await m.store.get(m.key))?.meta ?? {};
    expect(meta).toMatchObject({ cc_id: expect.anything(), domain: expect.any(String) });
    expect(Object.keys(meta).filter((k) => /token|secret|password|code|session|cookie/i.test(k))).toEqual([]);
    expect(Object.keys(meta)).not.toContain("access_token");
    expect(Object.keys(meta)).not.toContain("expires_in");
  });
});

describe("aruba-central (seed 003)", () => {
  it("steps 1–3 exactly as documented, then the query-string refresh with no body", async () => {
    const info = h.emu.providers["aruba-central"];
    const rec = recording();
    const m = h.manager("aruba-central", {}, { runtime: { ...h.runtime, fetch: rec.fetch } });
    const t = await m.getToken();
    expect(rec.sent).toHaveLength(3);
    const [s1, s2, s3] = rec.sent as [Sent, Sent, Sent];

    expect(s1.method).toBe("POST");
    expect(`${s1.url.origin}${s1.url.pathname}`).toBe(`${info.baseUrl}/oauth2/authorize/central/api/login`);
    expect(query(s1)).toEqual({ client_id: info.clientId });
    expect(mediaType(s1)).toBe("application/json");
    expect(s1.headers.get("accept")).toBe("application/json");
    expect(JSON.parse(s1.body)).toEqual({ username: info.username, password: info.password });

    expect(s2.method).toBe("POST");
    expect(`${s2.url.origin}${s2.url.pathname}`).toBe(`${info.baseUrl}/oauth2/authorize/central/api`);
    expect(query(s2)).toEqual({ client_id: info.clientId, response_type: "code", scope: "all" });
    expect(mediaType(s2)).toBe("application/json");
    expect(s2.headers.get("accept")).toBe("application/json");
    expect(s2.headers.get("cookie")).toMatch(/^session=[^;\s]+$/);
    expect(s2.headers.get("x-csrf-token")).toMatch(/^\S+$/);
    expect(s2.headers.get("x-csrf-token")).not.toBe(s2.headers.get("cookie")!.slice("session=".length));
    expect(JSON.parse(s2.body)).toEqual({ customer_id: info.customerId });

    expect(s3.method).toBe("POST");
    expect(s3.url.href).toBe(`${info.baseUrl}/oauth2/token`);
    expect(mediaType(s3)).toBe("application/json");
    const b3 = JSON.parse(s3.body);
    expect(Object.keys(b3).sort()).toEqual(["client_id", "client_secret", "code", "grant_type"]);
    expect(b3).toMatchObject({
      client_id: info.clientId,
      client_secret: info.clientSecret,
      grant_type: "authorization_code",
    });
    expect(typeof b3.code).toBe("string");
    expect(b3.code).not.toBe("");

    const first = await m.store.get(m.key);
    await h.advance(7200);
    expect((await m.getToken()).source).toBe("refresh");
    expect(rec.sent).toHaveLength(4);
    const r = rec.sent[3]!;
    expect(r.method).toBe("POST");
    expect(`${r.url.origin}${r.url.pathname}`).toBe(`${info.baseUrl}/oauth2/token`);
    expect(query(r)).toEqual({
      client_id: info.clientId,
      client_secret: info.clientSecret,
      grant_type: "refresh_token",
      refresh_token: first?.refreshToken,
    });
    expect(r.body).toBe("");
    expect(r.headers.get("accept")).toBe("application/json");
    expect((await m.store.get(m.key))?.refreshToken).not.toBe(first?.refreshToken);
    expect(t.tokenType).toBe("Bearer");
  });

  it("scope read is what step 2 asks for", async () => {
    const rec = recording();
    const m = h.manager("aruba-central", { scope: "read" }, { runtime: { ...h.runtime, fetch: rec.fetch } });
    await m.getToken();
    expect(rec.sent[1]!.url.searchParams.get("scope")).toBe("read");
  });

  it("a wrong password at step 1 is INVALID_GRANT with the login hint and releases the budget", async () => {
    const err = await h
      .manager("aruba-central", { password: "wrong-aruba-password" })
      .getToken()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "INVALID_GRANT", provider: "aruba-central", status: 401 });
    expect((err as { hint: string }).hint).toBe("Check the username, password and client id.");
    expect((err as Error).message).toMatch(/^Aruba login \(step 1\) refused: HTTP 401: /);
    expect((err as Error).message).not.toContain("wrong-aruba-password");
    // Released: the right password logs in at once.
    expect((await h.manager("aruba-central").getToken()).source).toBe("login");
  });

  it("an unknown client id at step 1 is INVALID_GRANT too (401); another refusal (404) is UNAUTHORIZED", async () => {
    const wrong = await h
      .manager("aruba-central", { clientId: "not-the-client" })
      .getToken()
      .catch((e: unknown) => e);
    expect(wrong).toMatchObject({ code: "INVALID_GRANT", status: 401 });
    await h.emu.admin.fault({ provider: "aruba-central", endpoint: "login", type: "status", status: 404 });
    const other = await h
      .manager("aruba-central")
      .getToken()
      .catch((e: unknown) => e);
    expect(other).toMatchObject({ code: "UNAUTHORIZED", status: 404, provider: "aruba-central" });
    expect((other as { hint: string }).hint).toBe("Check the username, password and client id.");
    expect((await h.counters("aruba-central")).logins).toBe(0);
    // Nothing was spent: the next login goes through.
    expect((await h.manager("aruba-central").getToken()).source).toBe("login");
  });

  it("a customer id the user may not see is refused at step 2 (ACCESS_DENIED), and releases the budget", async () => {
    const err = await h
      .manager("aruba-central", { customerId: "some-other-customer" })
      .getToken()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: "ACCESS_DENIED",
      provider: "aruba-central",
      status: 403,
      oauthError: "access_denied",
    });
    expect((err as Error).message).toMatch(/^Aruba authorization code \(step 2\) refused: HTTP 403/);
    expect((await h.manager("aruba-central").getToken()).source).toBe("login");
  });

  it("a wrong client secret is refused at step 3 (INVALID_CLIENT) and releases the budget", async () => {
    const err = await h
      .manager("aruba-central", { clientSecret: "wrong-aruba-secret" })
      .getToken()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "INVALID_CLIENT", provider: "aruba-central" });
    expect((err as Error).message).toMatch(/^Aruba token \(step 3\) refused: HTTP 40[01]/);
    expect((err as Error).message).not.toContain("wrong-aruba-secret");
    expect((await h.manager("aruba-central").getToken()).source).toBe("login");
  });

  it("missing login fields are CONFIG_INVALID naming each, with the import hint, before any request", async () => {
    const rec = recording();
    const err = await h
      .manager(
        "aruba-central",
        { username: undefined, password: undefined, customerId: undefined },
        { runtime: { ...h.runtime, fetch: rec.fetch } },
      )
      .getToken()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "CONFIG_INVALID", provider: "aruba-central" });
    expect((err as Error).message).toBe(
      'Profile "aruba-central-test": an Aruba Central login needs username, password (or passwordEnv / passwordCommand), customerId',
    );
    expect((err as { hint: string }).hint).toBe(
      "Add them to the profile, or (SSO/MFA accounts) import a token pair from the Central UI: `hpauth login --profile aruba-central-test --import`.",
    );
    expect(rec.sent).toHaveLength(0);
    for (const [missing, named] of [
      [{ username: undefined }, "username"],
      [{ password: undefined }, "password (or passwordEnv / passwordCommand)"],
      [{ customerId: undefined }, "customerId"],
    ] as const) {
      const one = await h
        .manager("aruba-central", missing)
        .getToken()
        .catch((e: unknown) => e);
      expect((one as Error).message).toBe(`Profile "aruba-central-test": an Aruba Central login needs ${named}`);
    }
  });
});
