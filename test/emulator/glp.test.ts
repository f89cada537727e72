/**
 * The emulated GreenLake platform and new Central, on the wire: the ready-line entry, the workspace issuers
 * (client_credentials, RFC 8693 token exchange and its refusals), GLP-shaped JWTs verified against the SSO's JWKS,
 * the GLP token path on the SSO origin, the GLP lists' offset/limit paging, new Central's limit/next cursor, and
 * the cross-refusal of classic and new Central tokens.
 */
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Emulator, ProviderInfo } from "../../src/emulator/index.js";
import { basic, decodeJwt, json, postForm, start } from "./helpers.js";

const MSP = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const TENANT = "11111111222233334444555555555555";
const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT = "urn:ietf:params:oauth:token-type:access_token";

let emu: Emulator;
let glp: Required<Pick<ProviderInfo, "baseUrl" | "clientId" | "clientSecret" | "workspaceId">>;
beforeAll(async () => {
  emu = await start({ credentials: { "greenlake-platform": { workspaceId: MSP, tenantWorkspaceIds: [TENANT] } } });
  glp = emu.providers["greenlake-platform"] as typeof glp;
});
afterAll(() => emu.close());
afterEach(() => emu.admin.reset());

const issuer = (ws: string) => `${glp.baseUrl}/authorization/v2/oauth2/${ws}/token`;
const own = async () =>
  (await json(
    await postForm(issuer(MSP), {
      grant_type: "client_credentials",
      client_id: glp.clientId,
      client_secret: glp.clientSecret,
    }),
  )) as { access_token: string; expires_in: number; token_type: string };
const get = (path: string, token: string) =>
  fetch(`${glp.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });

describe("ready line and origin", () => {
  it("its own origin, with the keys a profile needs (each a CLI flag: workspaceId → --workspace-id)", () => {
    expect(Object.keys(emu.providers["greenlake-platform"]).sort()).toEqual(
      ["baseUrl", "clientId", "clientSecret", "workspaceId"].sort(),
    );
    expect(glp.workspaceId).toBe(MSP);
    const origins = new Set(Object.values(emu.providers).map((p) => p.baseUrl));
    expect(origins.size).toBe(Object.keys(emu.providers).length);
    expect(new URL(glp.baseUrl).pathname).toBe("/");
  });

  it("a fixed --port puts greenlake-platform on N+6", async () => {
    const probe = await start();
    const port = Number(new URL(probe.adminUrl).port) + 100;
    await probe.close();
    const fixed = await start({ port }).catch(() => undefined);
    if (!fixed) return; // the port happened to be taken: nothing to say about the layout
    try {
      expect(fixed.providers["greenlake-platform"].baseUrl).toBe(`http://127.0.0.1:${port + 6}`);
    } finally {
      await fixed.close();
    }
  });
});

describe("the workspace issuer", () => {
  it("client_credentials in the body or as Basic: a GLP-shaped RS256 JWT, 900 s, verifiable with the SSO's JWKS", async () => {
    const t = await own();
    expect(t).toMatchObject({ token_type: "Bearer", expires_in: 900 });
    const viaBasic = await postForm(
      issuer(MSP),
      { grant_type: "client_credentials" },
      { authorization: basic(glp.clientId, glp.clientSecret) },
    );
    expect(viaBasic.status).toBe(200);
    const jwks = createRemoteJWKSet(new URL(emu.jwksUrls["greenlake-platform"]!));
    const { payload, protectedHeader } = await jwtVerify(t.access_token, jwks, { currentDate: new Date() });
    expect(protectedHeader.alg).toBe("RS256");
    expect(payload).toMatchObject({
      client_id: glp.clientId,
      sub: glp.clientId,
      iss: `${glp.baseUrl}/authorization/v2/oauth2/${MSP}`,
      aud: "external_api",
      hpe_workspace_id: MSP,
      platform_customer_id: MSP,
    });
    expect((payload.exp as number) - (payload.iat as number)).toBe(900);
  });

  it("refuses: a wrong secret, the client at another workspace, header and body at once, another grant", async () => {
    const bad = await postForm(issuer(MSP), {
      grant_type: "client_credentials",
      client_id: glp.clientId,
      client_secret: "x",
    });
    expect(bad.status).toBe(401);
    expect(await json(bad)).toMatchObject({ error: "invalid_client" });
    const elsewhere = await postForm(issuer(TENANT), {
      grant_type: "client_credentials",
      client_id: glp.clientId,
      client_secret: glp.clientSecret,
    });
    expect(elsewhere.status).toBe(401);
    const both = await postForm(
      issuer(MSP),
      { grant_type: "client_credentials", client_secret: glp.clientSecret },
      { authorization: basic(glp.clientId, glp.clientSecret) },
    );
    expect(both.status).toBe(400);
    const pw = await postForm(issuer(MSP), { grant_type: "password", username: "u", password: "p" });
    expect(await json(pw)).toMatchObject({ error: "unsupported_grant_type" });
    expect((await emu.admin.counters())["greenlake-platform"].refusals).toMatchObject({
      invalid_client: 1,
      wrong_workspace: 1,
      invalid_request: 1,
      unsupported_grant_type: 1,
    });
  });

  it("token exchange: the MSP token for a tenant's, with act; refuses a bad, expired or non-MSP subject and a non-tenant", async () => {
    const msp = (await own()).access_token;
    const res = await postForm(issuer(TENANT), { grant_type: EXCHANGE, subject_token: msp, subject_token_type: AT });
    expect(res.status).toBe(200);
    const t = await json(res);
    expect(t).toMatchObject({ token_type: "Bearer", expires_in: 900, issued_token_type: AT });
    const tenantToken = t.access_token as string;
    expect(decodeJwt(tenantToken).payload).toMatchObject({
      hpe_workspace_id: TENANT,
      act: { sub: glp.clientId, hpe_workspace_id: MSP },
    });
    const refuse = async (params: Record<string, string>, ws = TENANT) => {
      const r = await postForm(issuer(ws), { grant_type: EXCHANGE, subject_token_type: AT, ...params });
      return { status: r.status, body: await json(r) };
    };
    expect(await refuse({})).toMatchObject({ status: 400, body: { error: "invalid_request" } });
    expect(await refuse({ subject_token: "eyJ.not.ours" })).toMatchObject({
      status: 400,
      body: { error: "invalid_request", error_description: "subject_token is not a GreenLake token" },
    });
    expect(
      await refuse({ subject_token: msp, subject_token_type: "urn:ietf:params:oauth:token-type:jwt" }),
    ).toMatchObject({
      status: 400,
    });
    // A tenant's token is not an MSP token: no exchange chains.
    expect(await refuse({ subject_token: tenantToken })).toMatchObject({
      body: { error_description: "subject_token is not an MSP workspace token" },
    });
    expect(await refuse({ subject_token: msp }, "ffffffffffffffffffffffffffffffff")).toMatchObject({
      status: 400,
      body: { error: "invalid_target" },
    });
    await emu.admin.advanceClock(901);
    expect(await refuse({ subject_token: msp })).toMatchObject({
      body: { error: "invalid_request", error_description: "subject_token is expired" },
    });
  });

  it("the SSO origin's /as/token.oauth2 issues GLP tokens to GLP clients (the same PingFederate)", async () => {
    const res = await postForm(`${emu.providers.greenlake.baseUrl}/as/token.oauth2`, {
      grant_type: "client_credentials",
      client_id: glp.clientId,
      client_secret: glp.clientSecret,
    });
    expect(res.status).toBe(200);
    const t = await json(res);
    expect(t.expires_in).toBe(900);
    expect(decodeJwt(t.access_token as string).payload).toMatchObject({
      iss: "https://sso.common.cloud.hpe.com",
      hpe_workspace_id: MSP,
    });
    expect((await get("/devices/v1/devices", t.access_token as string)).status).toBe(200);
    // …and it is no DSCC token.
    const dscc = await fetch(`${emu.providers.greenlake.baseUrl}/api/v1/storage-systems`, {
      headers: { authorization: `Bearer ${t.access_token}` },
    });
    expect(dscc.status).toBe(401);
  });
});

describe("the APIs", () => {
  it("GET /devices/v1/devices: offset/limit, {items, count, offset, total}; 400 on a limit out of range", async () => {
    const token = (await own()).access_token;
    const first = await json(await get("/devices/v1/devices?limit=3", token));
    expect(first).toMatchObject({ count: 3, offset: 0, total: 7 });
    const last = await json(await get("/devices/v1/devices?limit=3&offset=6", token));
    expect(last).toMatchObject({ count: 1, offset: 6, total: 7 });
    expect((await get("/devices/v1/devices?limit=0", token)).status).toBe(400);
    expect((await get("/devices/v1/devices?limit=2001", token)).status).toBe(400);
    const none = await fetch(`${glp.baseUrl}/devices/v1/devices`);
    expect(none.status).toBe(401);
  });

  it("GET /network-monitoring/v1/aps: limit and the next cursor, null on the last page", async () => {
    const token = (await own()).access_token;
    const p1 = await json(await get("/network-monitoring/v1/aps?limit=2", token));
    expect(p1).toMatchObject({ count: 2, total: 3, next: 3 });
    const p2 = await json(await get("/network-monitoring/v1/aps?limit=2&next=3", token));
    expect(p2).toMatchObject({ count: 1, total: 3, next: null });
  });

  it("classic and new Central tokens are refused by each other's APIs (401), counted by name", async () => {
    const a = emu.providers["aruba-central"];
    const glpToken = (await own()).access_token;
    const classic = await fetch(`${a.baseUrl}/monitoring/v2/aps`, { headers: { authorization: `Bearer ${glpToken}` } });
    expect(classic.status).toBe(401);
    expect(await json(classic)).toMatchObject({ error: "invalid_token" });
    // A classic token, the documented three steps.
    const login = await fetch(`${a.baseUrl}/oauth2/authorize/central/api/login?client_id=${a.clientId}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: a.username, password: a.password }),
    });
    const cookies = Object.fromEntries(
      login.headers.getSetCookie().map((c) => c.split(";")[0]!.split("=") as [string, string]),
    );
    const code = await json(
      await fetch(`${a.baseUrl}/oauth2/authorize/central/api?client_id=${a.clientId}&response_type=code&scope=all`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          cookie: `session=${cookies.session}`,
          "x-csrf-token": cookies.csrftoken!,
        },
        body: JSON.stringify({ customer_id: a.customerId }),
      }),
    );
    const tok = await json(
      await fetch(`${a.baseUrl}/oauth2/token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          client_id: a.clientId,
          client_secret: a.clientSecret,
          grant_type: "authorization_code",
          code: code.auth_code,
        }),
      }),
    );
    const refused = await get("/network-monitoring/v1/aps", tok.access_token as string);
    expect(refused.status).toBe(401);
    expect(await json(refused)).toMatchObject({ errorCode: "HPE_GL_ERROR_UNAUTHORIZED" });
    const c = await emu.admin.counters();
    expect(c["greenlake-platform"].refusals).toMatchObject({ classic_central_token: 1 });
    expect(c["aruba-central"].refusals).toMatchObject({ new_central_token: 1 });
  });

  it("admin revoke kills a GLP grant; the API then says revoked", async () => {
    const token = (await own()).access_token;
    expect(await emu.admin.revoke("greenlake-platform", token)).toBe(1);
    const res = await get("/devices/v1/devices", token);
    expect(res.status).toBe(401);
    expect(await res.text()).toContain("revoked");
  });
});
