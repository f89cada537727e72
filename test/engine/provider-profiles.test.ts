/**
 * What each preset makes of a profile (the providers' `resolve`): the documented token endpoint and API base per
 * region or cluster, the defaults (client auth, scope, client id), and the profile problems each refuses before any
 * request is sent. Offline: validateProfile only.
 */
import { describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { validateProfile } from "../../src/engine/profile.js";
import { getProvider } from "../../src/engine/providers/index.js";
import type { NamedProfile, ProviderId } from "../../src/engine/types.js";

const resolve = (provider: ProviderId, extra: Partial<NamedProfile> = {}) =>
  validateProfile({ name: "p", provider, ...extra });

/** The problem lines of an invalid profile (as the user reads them: config key names). */
function problems(provider: ProviderId, extra: Partial<NamedProfile> = {}): string[] {
  try {
    resolve(provider, extra);
  } catch (e) {
    expect(e).toBeInstanceOf(HpauthError);
    expect((e as HpauthError).code).toBe("CONFIG_INVALID");
    return (e as Error).message
      .split("\n")
      .slice(1)
      .map((l) => l.replace(/^ {2}- /, ""));
  }
  return [];
}

const CLIENT = { clientId: "c", clientSecret: "s" };

describe("aruba-central", () => {
  const aruba = { ...CLIENT, username: "u", password: "pw", customerId: "cust" };
  it.each([
    ["US-1", "https://app1-apigw.central.arubanetworks.com"],
    ["eu-1", "https://eu-apigw.central.arubanetworks.com"],
    ["APAC-EAST1", "https://apigw-apaceast.central.arubanetworks.com"],
    ["China-1", "https://apigw.central.arubanetworks.com.cn"],
  ])("cluster %s: its API gateway is the base, the token endpoint and the API", (region, gw) => {
    const p = resolve("aruba-central", { ...aruba, region });
    expect(p.baseUrl).toBe(gw);
    expect(p.tokenUrl).toBe(`${gw}/oauth2/token`);
    expect(p.apiBaseUrl).toBe(gw);
    expect(p.scope).toBe("all");
  });

  it("an explicit API base is kept; scope read is accepted, anything else refused", () => {
    const p = resolve("aruba-central", {
      ...aruba,
      region: "US-2",
      apiBaseUrl: "https://api.example.com",
      scope: "read",
    });
    expect(p.apiBaseUrl).toBe("https://api.example.com");
    expect(p.tokenUrl).toBe("https://apigw-prod2.central.arubanetworks.com/oauth2/token");
    expect(p.scope).toBe("read");
    expect(problems("aruba-central", { ...aruba, region: "US-1", scope: "write" })).toEqual([
      'scope: Aruba Central takes "all" or "read", not "write"',
    ]);
  });

  it("refreshes; never interactive; one login per 30 minutes", () => {
    const def = getProvider("aruba-central");
    const p = resolve("aruba-central", { ...aruba, region: "US-1" });
    expect(def.supportsRefresh(p)).toBe(true);
    expect(def.interactive(p)).toBe(false);
    expect(def.loginBudget).toEqual({ windowSeconds: 1800 });
  });

  it("the idle warning: none without a refresh token or a date, none up to 12 days, then the day count", () => {
    const def = getProvider("aruba-central");
    const p = resolve("aruba-central", { ...aruba, region: "US-1" });
    const DAY = 86_400_000;
    const now = Date.parse("2026-12-02T12:00:00Z");
    const rec = (extra: Record<string, unknown>) =>
      ({ accessToken: "a", refreshToken: "r", obtainedAt: now, ...extra }) as never;
    expect(def.warnings?.(p, undefined, now)).toEqual([]);
    expect(def.warnings?.(p, { accessToken: "a", obtainedAt: now - 20 * DAY } as never, now)).toEqual([]);
    expect(def.warnings?.(p, { refreshToken: "r" } as never, now)).toEqual([]);
    expect(def.warnings?.(p, rec({ obtainedAt: now - 12 * DAY }), now)).toEqual([]);
    const w = (days: number) => [
      `the Aruba refresh token has been idle ${days} days; it stops working after about 15: run \`hpauth keepalive\` (or \`hpauth token\`) to refresh it now`,
    ];
    expect(def.warnings?.(p, rec({ obtainedAt: now - 12 * DAY - 1000 }), now)).toEqual(w(12));
    expect(def.warnings?.(p, rec({ obtainedAt: now - 13.9 * DAY }), now)).toEqual(w(13));
    // The latest of: the last refresh, else the refresh token's issue, else the record's.
    expect(
      def.warnings?.(
        p,
        rec({ obtainedAt: now - 20 * DAY, refreshTokenIssuedAt: now - 14 * DAY, lastRefreshAt: now - DAY }),
        now,
      ),
    ).toEqual([]);
    expect(def.warnings?.(p, rec({ obtainedAt: now - DAY, refreshTokenIssuedAt: now - 14 * DAY }), now)).toEqual(w(14));
    expect(
      def.warnings?.(
        p,
        rec({ obtainedAt: now - DAY, refreshTokenIssuedAt: now - DAY, lastRefreshAt: now - 16 * DAY }),
        now,
      ),
    ).toEqual(w(16));
  });
});

describe("greenlake (DSCC)", () => {
  it.each([
    ["eu1", "https://eu1.data.cloud.hpe.com"],
    ["jp1", "https://jp1.data.cloud.hpe.com"],
    ["US1", "https://us1.data.cloud.hpe.com"],
  ])("region %s: the SSO issues, the region's API serves", (region, api) => {
    const p = resolve("greenlake", { ...CLIENT, region });
    expect(p.baseUrl).toBe("https://sso.common.cloud.hpe.com");
    expect(p.tokenUrl).toBe("https://sso.common.cloud.hpe.com/as/token.oauth2");
    expect(p.apiBaseUrl).toBe(api);
    expect(p.clientAuth).toBe("client_secret_post");
  });

  it("client_secret_basic is kept; none is refused; no refresh, never interactive", () => {
    expect(resolve("greenlake", { ...CLIENT, clientAuth: "client_secret_basic" }).clientAuth).toBe(
      "client_secret_basic",
    );
    expect(problems("greenlake", { ...CLIENT, clientAuth: "none" })).toEqual([
      'client_auth: GreenLake needs "client_secret_post" or "client_secret_basic"',
    ]);
    const p = resolve("greenlake", CLIENT);
    expect(p.tokenUrl).toBe("https://sso.common.cloud.hpe.com/as/token.oauth2");
    expect(getProvider("greenlake").supportsRefresh(p)).toBe(false);
    expect(getProvider("greenlake").interactive(p)).toBe(false);
  });
});

describe("hpe-identity", () => {
  it("the environment's gateway: its /services/oauth/token; the API there too unless given", () => {
    const base = "https://api-gw.support.hpe.com/apigwext";
    const p = resolve("hpe-identity", { ...CLIENT, baseUrl: base });
    expect(p.tokenUrl).toBe(`${base}/services/oauth/token`);
    expect(p.apiBaseUrl).toBe(base);
    expect(
      resolve("hpe-identity", { ...CLIENT, baseUrl: base, apiBaseUrl: "https://api.example.com" }).apiBaseUrl,
    ).toBe("https://api.example.com");
    expect(getProvider("hpe-identity").supportsRefresh(p)).toBe(false);
    expect(getProvider("hpe-identity").interactive(p)).toBe(false);
  });
});

describe("wxp", () => {
  it("the documented login host, /auth/login, the public client by default", () => {
    const p = resolve("wxp", { username: "u", password: "pw" });
    expect(p.baseUrl).toBe("https://login.wxpcollaboration.hp.com");
    expect(p.tokenUrl).toBe("https://login.wxpcollaboration.hp.com/auth/login");
    expect(p.apiBaseUrl).toBe("https://login.wxpcollaboration.hp.com");
    expect(p.clientId).toBe("WXP Collaboration");
    const own = resolve("wxp", {
      username: "u",
      password: "pw",
      clientId: "Mine",
      apiBaseUrl: "https://q.example.com",
    });
    expect(own.clientId).toBe("Mine");
    expect(own.apiBaseUrl).toBe("https://q.example.com");
    expect(getProvider("wxp").supportsRefresh(p)).toBe(false);
    expect(getProvider("wxp").interactive(p)).toBe(false);
  });
});

describe("techpulse", () => {
  it.each([
    [undefined, "https://daas.api.hp.com"],
    ["us", "https://daas.api.hp.com"],
    ["EU", "https://eu.daas.api.hp.com"],
  ])("region %s: token and authorize endpoints on the region's host, scope Read", (region, host) => {
    const p = resolve("techpulse", { ...CLIENT, ...(region ? { region } : {}) });
    expect(p.tokenUrl).toBe(`${host}/oauth/v1/token`);
    expect(p.authorizationUrl).toBe(`${host}/oauth/v1/authorize`);
    expect(p.apiBaseUrl).toBe(host);
    expect(p.scope).toBe("Read");
  });

  it("a scope and an API base of the profile's own; refreshes; always interactive", () => {
    const p = resolve("techpulse", { ...CLIENT, scope: "Read Write", apiBaseUrl: "https://api.example.com" });
    expect(p.scope).toBe("Read Write");
    expect(p.apiBaseUrl).toBe("https://api.example.com");
    expect(getProvider("techpulse").supportsRefresh(p)).toBe(true);
    expect(getProvider("techpulse").interactive(p)).toBe(true);
  });
});

describe("oauth2", () => {
  const TOKEN = { tokenUrl: "https://as.example.com/token" };
  it("client_credentials by default; client_secret_basic with a secret; refreshes; interactive for codes only", () => {
    const def = getProvider("oauth2");
    const p = resolve("oauth2", { ...TOKEN, ...CLIENT });
    expect(p.grantType).toBe("client_credentials");
    expect(p.clientAuth).toBe("client_secret_basic");
    expect(def.supportsRefresh(p)).toBe(true);
    expect(def.interactive(p)).toBe(false);
    const code = resolve("oauth2", {
      ...TOKEN,
      clientId: "c",
      grantType: "authorization_code",
      authorizationUrl: "https://as.example.com/authorize",
    });
    expect(code.clientAuth).toBe("none");
    expect(def.interactive(code)).toBe(true);
    expect(
      def.interactive(
        resolve("oauth2", { ...TOKEN, clientId: "c", grantType: "password", username: "u", password: "p" }),
      ),
    ).toBe(false);
  });

  it("each grant's own problems", () => {
    expect(problems("oauth2", { ...TOKEN, ...CLIENT, grantType: "implicit" as never })).toEqual([
      'grant_type: expected client_credentials, password or authorization_code, got "implicit"',
    ]);
    expect(problems("oauth2", CLIENT)).toEqual(["token_url: required (or set issuer for discovery)"]);
    expect(problems("oauth2", { ...CLIENT, issuer: "https://as.example.com" })).toEqual([]);
    expect(problems("oauth2", { ...TOKEN, clientId: "c", grantType: "authorization_code" })).toEqual([
      "authorization_url: required for grant_type authorization_code (or set issuer for discovery)",
    ]);
    expect(
      problems("oauth2", { issuer: "https://as.example.com", clientId: "c", grantType: "authorization_code" }),
    ).toEqual([]);
    expect(problems("oauth2", { ...TOKEN, clientId: "c", grantType: "password" })).toEqual([
      "username: required for grant_type password",
      "password: required for grant_type password (or password_env / password_command)",
    ]);
    expect(
      problems("oauth2", { ...TOKEN, clientId: "c", grantType: "password", username: "u", password: "p" }),
    ).toEqual([]);
    expect(
      problems("oauth2", {
        ...TOKEN,
        clientId: "c",
        clientAuth: "client_secret_post",
        grantType: "password",
        username: "u",
        password: "p",
      }),
    ).toEqual([
      "client_secret: required for client_auth client_secret_post (or client_secret_env / client_secret_command)",
    ]);
    expect(problems("oauth2", { ...TOKEN, clientId: "c" })).toEqual([
      "client_secret: client_credentials needs a confidential client (a secret and client_auth basic or post)",
    ]);
    expect(problems("oauth2", { ...TOKEN, ...CLIENT, clientAuth: "none" })).toEqual([
      "client_secret: client_credentials needs a confidential client (a secret and client_auth basic or post)",
    ]);
    expect(resolve("oauth2", { ...TOKEN, ...CLIENT, clientAuth: "client_secret_post" }).clientAuth).toBe(
      "client_secret_post",
    );
  });
});

describe("greenlake-platform and new-central", () => {
  const WS = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
  it("workspace ids: hyphens and spaces around are dropped; other characters refused, named as given", () => {
    expect(
      resolve("greenlake-platform", { ...CLIENT, workspaceId: ` ${WS.slice(0, 8)}-${WS.slice(8)} ` }).workspaceId,
    ).toBe(WS);
    expect(problems("greenlake-platform", { ...CLIENT, workspaceId: "ws/../x" })).toEqual([
      'workspace_id: "ws/../x" is not a workspace id (letters and digits, as GreenLake shows it)',
    ]);
    expect(problems("greenlake-platform", { ...CLIENT, workspaceId: "a".repeat(65) })[0]).toMatch(
      /is not a workspace id/,
    );
    expect(resolve("greenlake-platform", { ...CLIENT, workspaceId: "a".repeat(64) }).workspaceId).toBe("a".repeat(64));
    expect(resolve("greenlake-platform", { ...CLIENT, workspaceId: "" }).tokenUrl).toBe(
      "https://sso.common.cloud.hpe.com/as/token.oauth2",
    );
    expect(problems("greenlake-platform", { ...CLIENT, workspaceId: WS, tenantWorkspaceId: "bad id!" })).toEqual([
      'tenant_workspace_id: "bad id!" is not a workspace id (letters and digits, as GreenLake shows it)',
    ]);
  });

  it("a tenant that is the MSP workspace itself is refused; a token URL is an override without a tenant", () => {
    expect(problems("greenlake-platform", { ...CLIENT, workspaceId: WS, tenantWorkspaceId: WS })).toEqual([
      "tenant_workspace_id: is the MSP workspace itself; leave it out",
    ]);
    const own = "https://sso.example.com/as/token.oauth2";
    const p = resolve("greenlake-platform", { ...CLIENT, workspaceId: WS, tokenUrl: own });
    expect(p.tokenUrl).toBe(own);
    const t = resolve("greenlake-platform", { ...CLIENT, workspaceId: WS, tenantWorkspaceId: "ab".repeat(16) });
    expect(t.tokenUrl).toBe(`https://global.api.greenlake.hpe.com/authorization/v2/oauth2/${"ab".repeat(16)}/token`);
    expect(t.tenantWorkspaceId).toBe("ab".repeat(16));
    expect(problems("greenlake-platform", { ...CLIENT, clientAuth: "none" })).toEqual([
      'client_auth: GreenLake needs "client_secret_post" or "client_secret_basic"',
    ]);
    expect(resolve("greenlake-platform", { ...CLIENT, clientAuth: "client_secret_basic" }).clientAuth).toBe(
      "client_secret_basic",
    );
  });

  it("the MSP profile of a tenant profile: the same profile without the tenant, named for it", () => {
    const def = getProvider("greenlake-platform");
    const input: NamedProfile = {
      name: "t",
      provider: "greenlake-platform",
      ...CLIENT,
      workspaceId: WS,
      tenantWorkspaceId: "ab".repeat(16),
    };
    const subject = def.subjectProfile?.(input, validateProfile(input));
    expect(subject).toEqual({ name: "t (MSP workspace)", provider: "greenlake-platform", ...CLIENT, workspaceId: WS });
    const plain: NamedProfile = { name: "m", provider: "greenlake-platform", ...CLIENT, workspaceId: WS };
    expect(def.subjectProfile?.(plain, validateProfile(plain))).toBeUndefined();
  });

  it("new-central: a cluster, or an API base, or a base URL; the cluster's API behind the GLP issuer", () => {
    expect(problems("new-central", { ...CLIENT, workspaceId: WS })).toEqual([
      "region: a New Central cluster is needed (EU-1, EU-Central2, EU-Central3, UK, US-1, US-2, US-WEST-4, US-WEST-5, US-East1, Canada-1, APAC-1, APAC-EAST1, APAC-SOUTH1, UAE, China), or api_base_url",
    ]);
    expect(resolve("new-central", { ...CLIENT, workspaceId: WS, apiBaseUrl: "https://x.example.com" }).apiBaseUrl).toBe(
      "https://x.example.com",
    );
    expect(resolve("new-central", { ...CLIENT, workspaceId: WS, baseUrl: "http://127.0.0.1:9" }).apiBaseUrl).toBe(
      "http://127.0.0.1:9",
    );
    const p = resolve("new-central", { ...CLIENT, region: "us-1" });
    expect(p.apiBaseUrl).toBe("https://us1.api.central.arubanetworks.com");
    expect(p.tokenUrl).toBe("https://sso.common.cloud.hpe.com/as/token.oauth2");
    expect(getProvider("new-central").credentialFamily).toBe("greenlake-platform");
    expect(getProvider("new-central").supportsRefresh(p)).toBe(false);
  });
});
