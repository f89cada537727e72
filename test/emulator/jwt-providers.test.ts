/** wxp, greenlake and hpe-identity: the JWT-issuing services. */
import { gunzipSync } from "node:zlib";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Emulator, ProviderInfo } from "../../src/emulator/index.js";
import { basic, decodeJwt, FORM, json, postForm, start } from "./helpers.js";

let emu: Emulator;
let wxp: Required<ProviderInfo>;
let gl: Required<ProviderInfo>;
let id: Required<ProviderInfo>;
beforeAll(async () => {
  emu = await start();
  wxp = emu.providers.wxp as Required<ProviderInfo>;
  gl = emu.providers.greenlake as Required<ProviderInfo>;
  id = emu.providers["hpe-identity"] as Required<ProviderInfo>;
});
afterAll(() => emu.close());
afterEach(() => emu.admin.reset());

const wxpLogin = (params: Record<string, string> = {}) =>
  postForm(`${wxp.baseUrl}/auth/login`, {
    grant_type: "password",
    client_id: wxp.clientId,
    username: wxp.username,
    password: wxp.password,
    ...params,
  });
const rooms = (token: string) =>
  fetch(`${wxp.baseUrl}/api/v1/collaboration/rooms`, { headers: { authorization: `Bearer ${token}` } });

describe("wxp", () => {
  it("answers in Keycloak's shape: eyJh JWT, 300 s, bearer, not-before-policy, email profile", async () => {
    const res = await wxpLogin();
    expect(res.status).toBe(200);
    const t = await json(res);
    expect(Object.keys(t).sort()).toEqual(
      [
        "access_token",
        "expires_in",
        "not-before-policy",
        "refresh_expires_in",
        "refresh_token",
        "scope",
        "session_state",
        "token_type",
      ].sort(),
    );
    expect(t).toMatchObject({
      expires_in: 300,
      token_type: "bearer",
      scope: "email profile",
      refresh_expires_in: 1800,
    });
    expect(String(t.access_token)).toMatch(/^eyJh/);
    expect(String(t.refresh_token)).toMatch(/^eyJh/);
    const jwks = createRemoteJWKSet(new URL(emu.jwksUrls.wxp!));
    const { payload } = await jwtVerify(String(t.access_token), jwks, {
      currentDate: new Date((await emu.admin.clock()).epochMs),
    });
    expect(payload).toMatchObject({ azp: "WXP Collaboration", scope: "email profile", typ: "Bearer" });
    expect(payload.exp! - payload.iat!).toBe(300);
    const c = (await emu.admin.counters()).wxp;
    expect(c).toMatchObject({ logins: 1, tokensIssued: 1, tokenRequests: 1 });
  });

  it("needs the client id form-encoded with its space; refuses others like Keycloak", async () => {
    const raw = await fetch(`${wxp.baseUrl}/auth/login`, {
      method: "POST",
      headers: FORM,
      body: `grant_type=password&client_id=WXP%2520Collaboration&username=${encodeURIComponent(wxp.username)}&password=${encodeURIComponent(wxp.password)}`,
    });
    expect(raw.status).toBe(401);
    expect(await json(raw)).toEqual({
      error: "invalid_client",
      error_description: "Invalid client or Invalid client credentials",
    });
    const plus = await fetch(`${wxp.baseUrl}/auth/login`, {
      method: "POST",
      headers: FORM,
      body: `grant_type=password&client_id=WXP+Collaboration&username=${encodeURIComponent(wxp.username)}&password=${encodeURIComponent(wxp.password)}`,
    });
    expect(plus.status).toBe(200);
    const bad = await wxpLogin({ password: "nope" });
    expect(bad.status).toBe(401);
    expect(await json(bad)).toEqual({ error: "invalid_grant", error_description: "Invalid user credentials" });
    const asJson = await fetch(`${wxp.baseUrl}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "password" }),
    });
    expect(asJson.status).toBe(400);
    expect((await json(asJson)).error_description).toBe("Missing form parameter: grant_type");
  });

  it("the refresh grant is NOT IMPLEMENTED: answered like an unsupported grant", async () => {
    const t = await json(await wxpLogin());
    const res = await postForm(`${wxp.baseUrl}/auth/login`, {
      grant_type: "refresh_token",
      client_id: wxp.clientId,
      refresh_token: String(t.refresh_token),
    });
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({ error: "unsupported_grant_type", error_description: "Unsupported grant_type" });
    expect((await emu.admin.counters()).wxp.refreshes).toBe(0);
  });

  it("rooms API: live token only; stale after 300 s on the emulator clock", async () => {
    const t = await json(await wxpLogin());
    const ok = await rooms(String(t.access_token));
    expect(ok.status).toBe(200);
    expect(((await json(ok)).rooms as unknown[]).length).toBe(4);
    await emu.admin.advanceClock(300);
    const stale = await rooms(String(t.access_token));
    expect(stale.status).toBe(401);
    expect(stale.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await fetch(`${wxp.baseUrl}/api/v1/collaboration/rooms`)).status).toBe(401);
  });
});

const glToken = (params: Record<string, string>, headers: Record<string, string> = {}) =>
  postForm(`${gl.baseUrl}/as/token.oauth2`, params, headers);
const storage = (token: string) =>
  fetch(`${gl.baseUrl}/api/v1/storage-systems`, { headers: { authorization: `Bearer ${token}` } });

describe("greenlake", () => {
  it("client_secret_post: an RS256 JWT with the documented claims, verifiable with /pf/JWKS", async () => {
    const res = await glToken({
      grant_type: "client_credentials",
      client_id: gl.clientId,
      client_secret: gl.clientSecret,
    });
    expect(res.status).toBe(200);
    const t = await json(res);
    expect(t).toMatchObject({ token_type: "Bearer", expires_in: 7200 });
    const { header, payload } = decodeJwt(String(t.access_token));
    expect(header).toMatchObject({ alg: "RS256", "pi.atm": "dez0" });
    expect(Object.keys(payload).sort()).toEqual(
      [
        "client_id",
        "iss",
        "aud",
        "sub",
        "user_ctx",
        "auth_source",
        "platform_customer_id",
        "iat",
        "application_instance_id",
        "exp",
      ].sort(),
    );
    expect(payload).toMatchObject({
      client_id: gl.clientId,
      iss: "https://sso.common.cloud.hpe.com",
      aud: "external_api",
      auth_source: "ccs_token_management",
    });
    expect(Number(payload.exp) - Number(payload.iat)).toBe(7200);
    expect(emu.jwksUrls.greenlake).toBe(`${gl.baseUrl}/pf/JWKS`);
    const jwks = createRemoteJWKSet(new URL(emu.jwksUrls.greenlake!));
    await jwtVerify(String(t.access_token), jwks, {
      issuer: "https://sso.common.cloud.hpe.com",
      audience: "external_api",
    });
  });

  it("client_secret_basic (python sample) works too; conflicts and bad secrets are refused", async () => {
    const viaBasic = await glToken(
      { grant_type: "client_credentials" },
      { authorization: basic(gl.clientId, gl.clientSecret) },
    );
    expect(viaBasic.status).toBe(200);
    const wrong = await glToken({ grant_type: "client_credentials", client_id: gl.clientId, client_secret: "nope" });
    expect(wrong.status).toBe(401);
    expect((await json(wrong)).error).toBe("invalid_client");
    const conflict = await glToken(
      { grant_type: "client_credentials", client_id: "other" },
      { authorization: basic(gl.clientId, gl.clientSecret) },
    );
    expect(conflict.status).toBe(400);
    const grant = await glToken({ grant_type: "password", client_id: gl.clientId, client_secret: gl.clientSecret });
    expect((await json(grant)).error).toBe("unsupported_grant_type");
    const noGrant = await glToken({ client_id: gl.clientId, client_secret: gl.clientSecret });
    expect((await json(noGrant)).error).toBe("invalid_request");
    const c = await emu.admin.counters();
    expect(c.greenlake).toMatchObject({ tokensIssued: 1, tokenRequests: 5 });
  });

  it("storage systems with ratelimit headers; expired → HPE_GL_ERROR 'signature has expired'", async () => {
    const t = await json(
      await glToken({ grant_type: "client_credentials", client_id: gl.clientId, client_secret: gl.clientSecret }),
    );
    const ok = await storage(String(t.access_token));
    expect(ok.status).toBe(200);
    expect(ok.headers.get("ratelimit-remaining")).toBeTruthy();
    expect(ok.headers.get("ratelimit-reset")).toBeTruthy();
    expect(await json(ok)).toMatchObject({ count: 3, total: 3, offset: 0 });
    await emu.admin.advanceClock(7200);
    const expired = await storage(String(t.access_token));
    expect(expired.status).toBe(401);
    const body = await json(expired);
    expect(String(body.errorCode)).toContain("HPE_GL_ERROR");
    expect(String(body.message)).toContain("signature has expired");
  });

  it("configurable lifetime (personal API clients: 15 minutes)", async () => {
    const e = await start({ lifetimes: { greenlake: { accessSeconds: 900 } } });
    try {
      const p = e.providers.greenlake;
      const t = await json(
        await postForm(`${p.baseUrl}/as/token.oauth2`, {
          grant_type: "client_credentials",
          client_id: p.clientId!,
          client_secret: p.clientSecret!,
        }),
      );
      expect(t.expires_in).toBe(900);
      const { payload } = decodeJwt(String(t.access_token));
      expect(Number(payload.exp) - Number(payload.iat)).toBe(900);
    } finally {
      await e.close();
    }
  });
});

const idToken = (body: RequestInit["body"] | undefined, headers: Record<string, string> = {}, query = "") =>
  fetch(`${id.baseUrl}/services/oauth/token${query}`, {
    method: "POST",
    headers: { authorization: basic(id.clientId, id.clientSecret), ...headers },
    ...(body !== undefined ? { body } : {}),
  });
const warranty = (token: string, path = "/support/entitlement/v1/warrantyCheck/CZ12345678/123456-B21?cc=US&hsl=true") =>
  fetch(`${id.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });

describe("hpe-identity", () => {
  it("form body: the documented fields, zip_authorities is gzip+base64 JSON", async () => {
    const res = await idToken(`grant_type=client_credentials&client_id=${id.clientId}`, FORM);
    expect(res.status).toBe(200);
    const t = await json(res);
    expect(t).toMatchObject({
      token_type: "bearer",
      expires_in: 3599,
      scope: "read write",
      cc_id: id.clientId,
      domain: "SA",
    });
    for (const k of ["ga_id", "sc_id", "eu_id", "jti"]) expect(String(t[k])).toMatch(/^[0-9a-f-]{36}$/);
    expect(String(t.zip_authorities)).toMatch(/^H4sI/);
    const authorities = JSON.parse(gunzipSync(Buffer.from(String(t.zip_authorities), "base64")).toString("utf8"));
    expect(Array.isArray(authorities) && authorities.length > 0).toBe(true);
    const { payload } = decodeJwt(String(t.access_token));
    expect(payload.jti).toBe(t.jti);
    const jwks = createRemoteJWKSet(new URL(emu.jwksUrls["hpe-identity"]!));
    await jwtVerify(String(t.access_token), jwks);
  });

  it("raw body, URL parameters and multipart are accepted too", async () => {
    expect((await idToken("grant_type=client_credentials", { "content-type": "text/plain" })).status).toBe(200);
    expect((await idToken(undefined, {}, "?grant_type=client_credentials")).status).toBe(200);
    const fd = new FormData();
    fd.set("grant_type", "client_credentials");
    fd.set("client_id", id.clientId);
    expect((await idToken(fd)).status).toBe(200);
    expect((await emu.admin.counters())["hpe-identity"].tokensIssued).toBe(3);
  });

  it("refusals in Spring Security's words", async () => {
    const none = await fetch(`${id.baseUrl}/services/oauth/token`, {
      method: "POST",
      headers: FORM,
      body: "grant_type=client_credentials",
    });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Basic/);
    const bad = await fetch(`${id.baseUrl}/services/oauth/token`, {
      method: "POST",
      headers: { ...FORM, authorization: basic(id.clientId, "wrong") },
      body: "grant_type=client_credentials",
    });
    expect(bad.status).toBe(401);
    const mismatch = await idToken("grant_type=client_credentials&client_id=someone-else", FORM);
    expect(mismatch.status).toBe(401);
    expect(await json(mismatch)).toEqual({
      error: "invalid_client",
      error_description: "Given client ID does not match authenticated client",
    });
    const missing = await idToken(`client_id=${id.clientId}`, FORM);
    expect(missing.status).toBe(400);
    expect((await json(missing)).error).toBe("invalid_request");
    const pw = await idToken("grant_type=password", FORM);
    expect((await json(pw)).error).toBe("unsupported_grant_type");
  });

  it("warranty check: a deliverable contract and a G-blocked one without Highest Support Level", async () => {
    const t = await json(await idToken("grant_type=client_credentials", FORM));
    const res = await warranty(String(t.access_token));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-ratelimit-limit-day")).toBeTruthy();
    expect(res.headers.get("ratelimit-remaining")).toBeTruthy();
    const body = (await json(res)) as { highestSupportLevel?: string; contracts: Record<string, unknown>[] };
    expect(body.highestSupportLevel).toBe("24x7");
    const blocked = body.contracts.find((c) => String(c.contractStatus).includes("G"))!;
    expect(blocked).toBeTruthy();
    expect(blocked.highestSupportLevel).toBeUndefined();
    const only = (await json(
      await warranty(
        String(t.access_token),
        "/support/entitlement/v1/warrantyCheck/CZGBLOCKED1/123456-B21?cc=US&hsl=true",
      ),
    )) as typeof body;
    expect(only.highestSupportLevel).toBeUndefined();
    expect((await warranty(String(t.access_token), "/support/entitlement/v1/warrantyCheck/CZ1/P1")).status).toBe(400);
  });

  it("expired token: 401 invalid_token that echoes the token, as the real service does", async () => {
    const t = await json(await idToken("grant_type=client_credentials", FORM));
    await emu.admin.advanceClock(3599);
    const res = await warranty(String(t.access_token));
    expect(res.status).toBe(401);
    expect(await json(res)).toEqual({
      error: "invalid_token",
      error_description: `Access token expired: ${t.access_token}`,
    });
    // A token from another provider is unknown here.
    const g = await json(
      await glToken({ grant_type: "client_credentials", client_id: gl.clientId, client_secret: gl.clientSecret }),
    );
    const foreign = await warranty(String(g.access_token));
    expect(foreign.status).toBe(401);
    expect(String((await json(foreign)).error_description)).not.toContain(String(g.access_token));
  });
});
