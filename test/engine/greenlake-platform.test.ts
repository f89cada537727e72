/**
 * greenlake-platform and new-central through the engine, over real HTTP against the emulator: both client-auth
 * styles, workspace scoping (two workspaces → two tokens, two cache entries), MSP token exchange (each token under
 * its own key), expiry from expires_in on the emulator's clock, the SSO path, the new-central preset.
 */
import { describe, expect, it } from "vitest";
import { credentialKey, validateProfile } from "../../src/engine/profile.js";
import type { NamedProfile } from "../../src/engine/types.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import { useHarness } from "./helpers.js";

const MSP = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const TENANT_A = "11111111222233334444555555555555";
const TENANT_B = "aaaaaaaabbbbccccddddeeeeeeeeeeee";
const h = useHarness({
  credentials: { "greenlake-platform": { workspaceId: MSP, tenantWorkspaceIds: [TENANT_A, TENANT_B] } },
});

/** The payload of a JWT, to check what the token is scoped to. */
function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8"));
}

/** Every request the engine sends, recorded on the way to the real (emulated) server. */
function recording(): { fetch: typeof fetch; sent: Array<{ url: string; headers: Headers; body: string }> } {
  const sent: Array<{ url: string; headers: Headers; body: string }> = [];
  return {
    sent,
    fetch: async (input, init) => {
      sent.push({
        url: String(input instanceof Request ? input.url : input),
        headers: new Headers(init?.headers),
        body: typeof init?.body === "string" ? init.body : "",
      });
      return fetch(input, init);
    },
  };
}

describe("client credentials at the workspace's issuer", () => {
  it("client_secret_post (default): the secret in the form body, no Authorization header, a 15-minute JWT", async () => {
    const rec = recording();
    const m = h.manager("greenlake-platform", {}, { runtime: { ...h.runtime, fetch: rec.fetch } });
    const t = await m.getToken();
    expect(rec.sent).toHaveLength(1);
    expect(rec.sent[0]!.url).toBe(
      `${h.emu.providers["greenlake-platform"].baseUrl}/authorization/v2/oauth2/${MSP}/token`,
    );
    expect(rec.sent[0]!.headers.get("authorization")).toBeNull();
    const form = new URLSearchParams(rec.sent[0]!.body);
    expect(form.get("grant_type")).toBe("client_credentials");
    expect(form.get("client_secret")).toBe(h.emu.providers["greenlake-platform"].clientSecret);
    expect(claims(t.accessToken)).toMatchObject({ hpe_workspace_id: MSP, platform_customer_id: MSP });
    expect(Math.round((t.expiresAt.getTime() - h.now()) / 1000)).toBeGreaterThan(890);
    expect(Math.round((t.expiresAt.getTime() - h.now()) / 1000)).toBeLessThanOrEqual(900);
    const res = await m.fetch("/devices/v1/devices");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ count: 7, offset: 0, total: 7 });
  });

  it("client_secret_basic: the credentials in a Basic header, none in the body", async () => {
    const rec = recording();
    const m = h.manager(
      "greenlake-platform",
      { clientAuth: "client_secret_basic" },
      { runtime: { ...h.runtime, fetch: rec.fetch } },
    );
    await m.getToken();
    const info = h.emu.providers["greenlake-platform"];
    expect(rec.sent[0]!.headers.get("authorization")).toBe(
      `Basic ${Buffer.from(`${info.clientId}:${info.clientSecret}`).toString("base64")}`,
    );
    const form = new URLSearchParams(rec.sent[0]!.body);
    expect(form.has("client_secret")).toBe(false);
    expect(form.has("client_id")).toBe(false);
    expect((await h.counters("greenlake-platform")).tokensIssued).toBe(1);
  });

  it("a wrong secret is INVALID_CLIENT (exit 3), and so is the client at another workspace's issuer", async () => {
    await expect(h.manager("greenlake-platform", { clientSecret: "wrong" }).getToken()).rejects.toMatchObject({
      code: "INVALID_CLIENT",
      exitCode: 3,
    });
    const other = await h
      .manager("greenlake-platform", { workspaceId: TENANT_A })
      .getToken()
      .catch((e: unknown) => e);
    expect(other).toMatchObject({ code: "INVALID_CLIENT" });
    expect((other as { hint: string }).hint).toContain(`created in workspace ${TENANT_A}`);
    expect((await h.counters("greenlake-platform")).refusals).toMatchObject({ invalid_client: 1, wrong_workspace: 1 });
  });

  it("expiry comes from expires_in on the emulator's clock, not from a constant", async () => {
    // This emulator says 900 s; the engine serves a token until 60 s (+ jitter ≤ 10 % of its lifetime) before its end.
    const h2 = h;
    const m = h2.manager("greenlake-platform");
    const first = await m.getToken();
    const lifetime = (first.expiresAt.getTime() - h2.now()) / 1000;
    expect(lifetime).toBeGreaterThan(890);
    await h2.advance(600);
    expect((await m.getToken()).source).toBe("cache");
    await h2.advance(300);
    const second = await m.getToken();
    expect(second.source).toBe("login");
    expect(second.accessToken).not.toBe(first.accessToken);
    // The old token is dead on the emulator's clock too: the API says so.
    const res = await fetch(`${h2.emu.providers["greenlake-platform"].baseUrl}/devices/v1/devices`, {
      headers: { authorization: `Bearer ${first.accessToken}` },
    });
    expect(res.status).toBe(401);
    expect(await res.text()).toContain("signature has expired");
  });
});

describe("workspace scoping", () => {
  it("the workspace is part of the cache key; hyphens as integrators strip them", () => {
    const base: NamedProfile = {
      name: "a",
      provider: "greenlake-platform",
      clientId: "c",
      clientSecret: "s",
      workspaceId: MSP,
    };
    const key = credentialKey(validateProfile(base));
    expect(credentialKey(validateProfile({ ...base, workspaceId: TENANT_A }))).not.toBe(key);
    const hyphens = `${MSP.slice(0, 8)}-${MSP.slice(8, 12)}-${MSP.slice(12, 16)}-${MSP.slice(16, 20)}-${MSP.slice(20)}`;
    expect(credentialKey(validateProfile({ ...base, workspaceId: hyphens }))).toBe(key);
    expect(credentialKey(validateProfile({ ...base, tenantWorkspaceId: TENANT_A }))).not.toBe(key);
    // The new-central preset is the same credential: one cache entry for both.
    expect(credentialKey(validateProfile({ ...base, provider: "new-central", region: "EU-1" }))).toBe(key);
  });

  it("two workspaces → two tokens and two cache entries, each seeing its own devices", async () => {
    const store = new MemoryTokenStore();
    const own = h.manager("greenlake-platform", {}, { store });
    const tenant = h.manager("greenlake-platform", { name: "tenant", tenantWorkspaceId: TENANT_A }, { store });
    const a = await own.getToken();
    const b = await tenant.getToken();
    expect(a.accessToken).not.toBe(b.accessToken);
    expect(claims(a.accessToken).hpe_workspace_id).toBe(MSP);
    expect(claims(b.accessToken).hpe_workspace_id).toBe(TENANT_A);
    expect(own.key).not.toBe(tenant.key);
    expect((await store.list()).sort()).toEqual([own.key, tenant.key].sort());
    expect(((await (await own.fetch("/devices/v1/devices")).json()) as { total: number }).total).toBe(7);
    expect(((await (await tenant.fetch("/devices/v1/devices")).json()) as { total: number }).total).toBe(4);
    // The tenant's token is the tenant's only: the MSP-only list refuses it.
    expect((await tenant.fetch("/workspaces/v1/msp-tenants")).status).toBe(403);
    const tenants = (await (await own.fetch("/workspaces/v1/msp-tenants")).json()) as { items: Array<{ id: string }> };
    expect(tenants.items.map((t) => t.id)).toEqual([TENANT_A, TENANT_B]);
  });
});

describe("MSP token exchange (RFC 8693)", () => {
  it("exchanges the MSP token at the tenant's issuer, without client credentials; each token under its own key", async () => {
    const rec = recording();
    const store = new MemoryTokenStore();
    const a = h.manager(
      "greenlake-platform",
      { name: "a", tenantWorkspaceId: TENANT_A },
      { store, runtime: { ...h.runtime, fetch: rec.fetch } },
    );
    const t = await a.getToken();
    const base = h.emu.providers["greenlake-platform"].baseUrl;
    expect(rec.sent.map((s) => s.url)).toEqual([
      `${base}/authorization/v2/oauth2/${MSP}/token`,
      `${base}/authorization/v2/oauth2/${TENANT_A}/token`,
    ]);
    const exchange = new URLSearchParams(rec.sent[1]!.body);
    expect(Object.fromEntries(exchange)).toEqual({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: (await store.get(a.subjectManager!.key))!.accessToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      requested_token_type: "urn:ietf:params:oauth:token-type:access_token",
    });
    expect(rec.sent[1]!.headers.get("authorization")).toBeNull();
    expect(claims(t.accessToken)).toMatchObject({ hpe_workspace_id: TENANT_A, act: { hpe_workspace_id: MSP } });
    // The MSP credential is cached under the key a plain profile of the same client and workspace has.
    expect(a.subjectManager!.key).toBe(h.manager("greenlake-platform").key);

    // A second tenant reuses the cached MSP token: one exchange, no second client_credentials grant.
    const b = h.manager(
      "greenlake-platform",
      { name: "b", tenantWorkspaceId: TENANT_B },
      { store, runtime: { ...h.runtime, fetch: rec.fetch } },
    );
    await b.getToken();
    expect(rec.sent.slice(2).map((s) => s.url)).toEqual([`${base}/authorization/v2/oauth2/${TENANT_B}/token`]);
    expect((await store.list()).sort()).toEqual([a.subjectManager!.key, a.key, b.key].sort());
    expect((await a.getToken()).source).toBe("cache");
    expect((await h.counters("greenlake-platform")).tokensIssued).toBe(3);
    // The exchanged token's own expires_in rules it.
    expect(Math.round((t.expiresAt.getTime() - h.now()) / 1000)).toBeLessThanOrEqual(900);
  });

  it("two tenants at once share one MSP grant (the MSP key's lock and re-read), each its own exchange", async () => {
    const store = new MemoryTokenStore();
    const a = h.manager("greenlake-platform", { name: "a", tenantWorkspaceId: TENANT_A }, { store });
    const b = h.manager("greenlake-platform", { name: "b", tenantWorkspaceId: TENANT_B }, { store });
    const [ta, tb] = await Promise.all([a.getToken(), b.getToken()]);
    expect(claims(ta.accessToken).hpe_workspace_id).toBe(TENANT_A);
    expect(claims(tb.accessToken).hpe_workspace_id).toBe(TENANT_B);
    const c = await h.counters("greenlake-platform");
    expect(c.tokensIssued).toBe(3);
    expect(c.tokenRequests).toBe(3);
  });

  it("a revoked MSP token is renewed once and the exchange sent once more", async () => {
    const store = new MemoryTokenStore();
    const a = h.manager("greenlake-platform", { tenantWorkspaceId: TENANT_A }, { store });
    await a.getToken();
    const msp = (await store.get(a.subjectManager!.key))!.accessToken!;
    await h.emu.admin.revoke("greenlake-platform", msp);
    const t = await a.getToken({ forceRefresh: true });
    expect(claims(t.accessToken).hpe_workspace_id).toBe(TENANT_A);
    expect((await store.get(a.subjectManager!.key))!.accessToken).not.toBe(msp);
    expect((await h.counters("greenlake-platform")).refusals).toMatchObject({ subject_revoked: 1 });
  });

  it("a workspace that is not a tenant is refused (INVALID_GRANT, exit 3) with a hint naming both", async () => {
    const err = await h
      .manager("greenlake-platform", { tenantWorkspaceId: "ffffffffffffffffffffffffffffffff" })
      .getToken()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "INVALID_GRANT", exitCode: 3, oauthError: "invalid_target" });
    expect((err as { hint: string }).hint).toContain(`not a tenant of the MSP workspace ${MSP}`);
    expect((await h.counters("greenlake-platform")).refusals).toMatchObject({ not_a_tenant: 1 });
  });

  it("tenantWorkspaceId needs workspaceId; a tokenUrl does not go with it", () => {
    expect(() =>
      validateProfile({
        name: "x",
        provider: "greenlake-platform",
        clientId: "c",
        clientSecret: "s",
        tenantWorkspaceId: TENANT_A,
      }),
    ).toThrow(/tenant_workspace_id: needs workspace_id/);
    expect(() =>
      validateProfile({
        name: "x",
        provider: "greenlake-platform",
        clientId: "c",
        clientSecret: "s",
        workspaceId: MSP,
        tenantWorkspaceId: TENANT_A,
        tokenUrl: "https://sso.common.cloud.hpe.com/as/token.oauth2",
      }),
    ).toThrow(/token_url: not used with tenant_workspace_id/);
  });
});

describe("the HPE SSO path and the new-central preset", () => {
  it("no workspace: the SSO's /as/token.oauth2 (the same PingFederate as DSCC) issues the workspace's GLP token", async () => {
    const sso = `${h.emu.providers.greenlake.baseUrl}/as/token.oauth2`;
    const m = h.manager("greenlake-platform", { workspaceId: undefined, tokenUrl: sso });
    expect(m.profile.tokenUrl).toBe(sso);
    const t = await m.getToken();
    expect(claims(t.accessToken)).toMatchObject({ iss: "https://sso.common.cloud.hpe.com", hpe_workspace_id: MSP });
    expect((await m.fetch("/devices/v1/devices")).status).toBe(200);
  });

  it("defaults: GLP at global.api.greenlake.hpe.com, the SSO without a workspace; a base URL override needs one", () => {
    const p = { name: "x", clientId: "c", clientSecret: "s" } as const;
    expect(validateProfile({ ...p, provider: "greenlake-platform", workspaceId: MSP }).tokenUrl).toBe(
      `https://global.api.greenlake.hpe.com/authorization/v2/oauth2/${MSP}/token`,
    );
    expect(validateProfile({ ...p, provider: "greenlake-platform" }).tokenUrl).toBe(
      "https://sso.common.cloud.hpe.com/as/token.oauth2",
    );
    // The API is GLP's whichever endpoint issues the token (request / proxy / manager.fetch need a base).
    expect(validateProfile({ ...p, provider: "greenlake-platform" }).apiBaseUrl).toBe(
      "https://global.api.greenlake.hpe.com",
    );
    expect(validateProfile({ ...p, provider: "greenlake-platform", workspaceId: MSP }).apiBaseUrl).toBe(
      "https://global.api.greenlake.hpe.com",
    );
    expect(() => validateProfile({ ...p, provider: "greenlake-platform", baseUrl: "http://127.0.0.1:9" })).toThrow(
      /workspace_id: required when base_url is overridden/,
    );
    const nc = validateProfile({ ...p, provider: "new-central", region: "eu-central3", workspaceId: MSP });
    expect(nc.region).toBe("EU-Central3");
    expect(nc.apiBaseUrl).toBe("https://de3.api.central.arubanetworks.com");
    expect(nc.tokenUrl).toBe(`https://global.api.greenlake.hpe.com/authorization/v2/oauth2/${MSP}/token`);
    expect(() => validateProfile({ ...p, provider: "new-central" })).toThrow(/region: a New Central cluster is needed/);
  });

  it("new-central: the same token calls the new Central API, which refuses a classic Central token", async () => {
    const m = h.manager("greenlake-platform", { provider: "new-central", tenantWorkspaceId: TENANT_A });
    const res = await m.fetch("/network-monitoring/v1/aps?limit=1");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ count: 1, total: 2, next: 2 });
    const classic = await h.manager("aruba-central").getToken();
    const refused = await fetch(`${h.emu.providers["greenlake-platform"].baseUrl}/network-monitoring/v1/aps`, {
      headers: { authorization: `Bearer ${classic.accessToken}` },
    });
    expect(refused.status).toBe(401);
    // …and the classic API refuses the new one.
    const glp = await m.getToken();
    const back = await fetch(`${h.emu.providers["aruba-central"].baseUrl}/monitoring/v2/aps`, {
      headers: { authorization: `Bearer ${glp.accessToken}` },
    });
    expect(back.status).toBe(401);
    expect((await h.counters("greenlake-platform")).refusals).toMatchObject({ classic_central_token: 1 });
    expect((await h.counters("aruba-central")).refusals).toMatchObject({ new_central_token: 1 });
  });
});

describe("lifetimes as the server says them (2 h for Central credentials, 15 min for GLP ones)", () => {
  const central = useHarness({ lifetimes: { "greenlake-platform": { accessSeconds: 7200 } } });
  it("a 2-hour expires_in is trusted as such, on the emulator's clock", async () => {
    const m = central.manager("greenlake-platform");
    const t = await m.getToken();
    expect(Math.round((t.expiresAt.getTime() - central.now()) / 1000)).toBeGreaterThan(7190);
    await central.advance(3600);
    expect((await m.getToken()).source).toBe("cache");
    await central.advance(3600);
    expect((await m.getToken()).source).toBe("login");
  });
});

describe("never past the longest documented lifetime", () => {
  const odd = useHarness({ lifetimes: { "greenlake-platform": { accessSeconds: 9000 } } });
  it("an expires_in of 2.5 h (and a JWT to match) is trusted for 2 h only", async () => {
    const t = await odd.manager("greenlake-platform").getToken();
    const lifetime = Math.round((t.expiresAt.getTime() - odd.now()) / 1000);
    expect(lifetime).toBeLessThanOrEqual(7200);
    expect(lifetime).toBeGreaterThan(7190);
  });
});
