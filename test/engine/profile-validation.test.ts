/**
 * A profile in, a resolved profile out, or one CONFIG_INVALID naming every bad field the way the user writes it and
 * saying where to fix it — for a profile from the config file and for a one-off profile made of flags alike.
 * (test/engine/unit.test.ts has the first cases; these pin each rule's edges.)
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { HpauthConfig } from "../../src/config/load.js";
import { resolveProfile } from "../../src/config/resolve.js";
import type { HpauthError } from "../../src/engine/errors.js";
import { credentialKey, loginBudgetKey, providerFields, validateProfile } from "../../src/engine/profile.js";
import type { NamedProfile } from "../../src/engine/types.js";

const gl: NamedProfile = { name: "p", provider: "greenlake", clientId: "id", clientSecret: "s", region: "eu1" };

/** The CONFIG_INVALID a profile gets (fails the test when it is valid). */
function invalid(profile: Partial<NamedProfile>): HpauthError {
  try {
    validateProfile(profile as NamedProfile);
  } catch (e) {
    expect(e).toMatchObject({ code: "CONFIG_INVALID" });
    return e as HpauthError;
  }
  return expect.unreachable(`profile ${JSON.stringify(profile)} was accepted`);
}

/** The problems listed, one per line, without the "  - " bullets. */
function problems(profile: Partial<NamedProfile>): string[] {
  const [, ...lines] = invalid(profile).message.split("\n");
  for (const l of lines) expect(l.startsWith("  - ")).toBe(true);
  return lines.map((l) => l.slice(4));
}

describe("the error", () => {
  it("names the profile and provider, lists each problem on its own line, carries both", () => {
    const e = invalid({ ...gl, name: "work", clientId: undefined, region: "mars1" });
    expect(e.message).toBe(
      'Profile "work" (greenlake) is not valid:\n' +
        '  - region: unknown API region "mars1" (expected one of eu1, jp1, us1)\n' +
        "  - client_id: required: API client id (GreenLake API client credentials)",
    );
    expect(e).toMatchObject({ profile: "work", provider: "greenlake" });
  });

  it("a profile without a name is called (unnamed)", () => {
    expect(invalid({ ...gl, name: "", clientId: undefined }).message).toMatch(/^Profile "\(unnamed\)" \(greenlake\)/);
    expect(invalid({ ...gl, name: undefined as never, provider: undefined }).message).toMatch(/^Profile "\(unnamed\)"/);
  });

  it("the hint says where one field is set: the profile's key, its flag, its variable", () => {
    expect(invalid({ ...gl, clientId: undefined }).hint).toBe(
      "Set client_id in the profile, --client-id or HPAUTH_CLIENT_ID.",
    );
    expect(invalid({ ...gl, region: "mars1" }).hint).toBe("Set region in the profile, --region or HPAUTH_REGION.");
    // Two problems of one field are one field to fix.
    expect(invalid({ ...gl, tokenParams: { grant_type: "x", code: "y" } }).hint).toBe(
      "Set token_params in the profile, --token-params or HPAUTH_TOKEN_PARAMS.",
    );
  });

  it("a secret's flag and variable are its *_env ones (a secret given as a flag shows in ps)", () => {
    expect(invalid({ ...gl, clientSecret: undefined }).hint).toBe(
      "Set client_secret in the profile, --client-secret-env or HPAUTH_CLIENT_SECRET_ENV.",
    );
    expect(invalid({ name: "w", provider: "wxp", username: "u" }).hint).toBe(
      "Set password in the profile, --password-env or HPAUTH_PASSWORD_ENV.",
    );
  });

  it("several fields: each one's flag, in the order of the problems", () => {
    const e = invalid({ name: "x", provider: "aruba-central", region: "nowhere", clientAuth: "x" as never });
    expect(e.hint).toBe(
      "Set them in the profile, as flags (--region, --base-url, --client-auth, --client-id, --client-secret-env) or as HPAUTH_* variables.",
    );
  });

  it("a one-off profile made of flags names no profile that does not exist", () => {
    const config: HpauthConfig = {
      path: "/nonexistent/hpauth/config.toml",
      exists: false,
      format: "toml",
      profiles: {},
      warnings: [],
    };
    const resolved = resolveProfile({
      config,
      flags: { provider: "greenlake", clientSecretEnv: "GL_SECRET" },
      env: {},
    });
    expect(resolved.adHoc).toBe(true);
    const e = invalid(resolved.profile);
    expect(e.message).toContain("client_id: required");
    expect(e.hint).toBe("Set client_id in the profile, --client-id or HPAUTH_CLIENT_ID.");
    expect(e.hint).not.toContain("profiles show");
  });
});

describe("provider", () => {
  it("missing: which ones exist and where to set it", () => {
    const e = invalid({ name: "x" });
    expect(e.message).toBe(
      'Profile "x": provider: missing (expected one of techpulse, wxp, greenlake, aruba-central, hpe-identity, greenlake-platform, new-central, oauth2)',
    );
    expect(e.hint).toBe("Set provider in the profile, --provider or HPAUTH_PROVIDER.");
    expect(e.profile).toBe("x");
    expect(invalid({ name: "x", provider: "" as never }).message).toContain("provider: missing");
  });

  it("unknown: which ones exist, and the one probably meant", () => {
    const e = invalid({ name: "x", provider: "grenlake" as never });
    expect(e.message).toBe(
      'Profile "x": provider: unknown "grenlake" (expected one of techpulse, wxp, greenlake, aruba-central, hpe-identity, greenlake-platform, new-central, oauth2; did you mean greenlake?)',
    );
    expect(e.profile).toBe("x");
  });
});

describe("region and endpoints", () => {
  it("a region matched whatever its case and surrounding spaces, as the provider spells it", () => {
    const p = validateProfile({ ...gl, region: " US1 " });
    expect(p.region).toBe("us1");
    expect(p.apiBaseUrl).toBe("https://us1.data.cloud.hpe.com");
    expect(p.baseUrl).toBe("https://sso.common.cloud.hpe.com");
  });

  it("an unknown region lists the provider's, by its own word for them", () => {
    expect(problems({ ...gl, region: "mars1" })).toEqual([
      'region: unknown API region "mars1" (expected one of eu1, jp1, us1)',
    ]);
    expect(
      problems({ name: "a", provider: "aruba-central", region: "X", clientId: "c", clientSecret: "s" })[0],
    ).toMatch(/^region: unknown cluster "X" \(expected one of /);
  });

  it("a provider without regions refuses one", () => {
    expect(problems({ name: "w", provider: "wxp", username: "u", password: "p", region: "eu" })).toEqual([
      "region: HP WXP Collaboration Query Service has no regions; set base_url instead",
    ]);
  });

  it("an empty region is none: the provider's default region, or its default origin", () => {
    const t = validateProfile({ name: "t", provider: "techpulse", clientId: "c", clientSecret: "s", region: "" });
    expect(t.region).toBe("us");
    expect(t.baseUrl).toBe("https://daas.api.hp.com");
    const g = validateProfile({ ...gl, region: "" });
    expect(g.region).toBeUndefined();
    expect(g.baseUrl).toBe("https://sso.common.cloud.hpe.com");
    expect(g).not.toHaveProperty("apiBaseUrl");
  });

  it("no region and no base URL where the provider has no default: what is needed", () => {
    expect(problems({ name: "a", provider: "aruba-central", clientId: "c", clientSecret: "s" })[0]).toMatch(
      /^base_url: required when no cluster is given \(clusters: [^)]*US-1/,
    );
    // hpe-identity: one problem for base_url, not a second "required".
    expect(problems({ name: "i", provider: "hpe-identity", clientId: "c", clientSecret: "s" })).toEqual([
      "base_url: required: set base_url to the environment's gateway, e.g. https://api-gw.support.hpe.com/apigwext (production) or your ITG/FUT base",
    ]);
    expect(problems({ name: "i", provider: "hpe-identity", clientId: "c", clientSecret: "s", baseUrl: "x" })).toEqual([
      'base_url: "x" is not an absolute URL (expected e.g. https://host)',
    ]);
  });

  it("a base URL override is the API's origin too, unless api_base_url says otherwise", () => {
    const o = validateProfile({ ...gl, baseUrl: "https://sso.test/" });
    expect(o.baseUrl).toBe("https://sso.test");
    expect(o.apiBaseUrl).toBe("https://sso.test");
    expect(o.tokenUrl).toBe("https://sso.test/as/token.oauth2");
    const a = validateProfile({ ...gl, baseUrl: "https://sso.test", apiBaseUrl: "https://api.test//" });
    expect(a.apiBaseUrl).toBe("https://api.test");
    const r = validateProfile({ ...gl, apiBaseUrl: "https://api.test" });
    expect(r.baseUrl).toBe("https://sso.common.cloud.hpe.com");
    expect(r.apiBaseUrl).toBe("https://api.test");
  });
});

describe("URLs", () => {
  const url = (baseUrl: string) => problems({ ...gl, baseUrl });

  it("https anywhere, plain http on loopback only", () => {
    for (const ok of ["https://x.test", "http://127.0.0.1:9999", "http://localhost:8080", "http://[::1]:1"]) {
      expect(validateProfile({ ...gl, baseUrl: ok }).baseUrl, ok).toBe(ok);
    }
    expect(url("http://example.com:8080/x")).toEqual([
      "base_url: must use https:// (http:// only for loopback hosts such as 127.0.0.1), got http://example.com:8080",
    ]);
    expect(url("ftp://127.0.0.1")).toEqual([
      "base_url: must use https:// (http:// only for loopback hosts such as 127.0.0.1), got ftp://127.0.0.1",
    ]);
  });

  it("no credentials, no query, no fragment; not a URL at all", () => {
    expect(url("https://u:p@x.test")).toEqual(["base_url: must not carry credentials in the URL"]);
    expect(url("https://u@x.test")).toEqual(["base_url: must not carry credentials in the URL"]);
    expect(url("https://:p@x.test")).toEqual(["base_url: must not carry credentials in the URL"]);
    expect(url("https://x.test/?a=1")).toEqual(["base_url: must not have a query string or fragment"]);
    expect(url("https://x.test/#f")).toEqual(["base_url: must not have a query string or fragment"]);
    expect(url("x.test")).toEqual(['base_url: "x.test" is not an absolute URL (expected e.g. https://host)']);
  });

  it("trailing slashes go, a path stays", () => {
    expect(validateProfile({ ...gl, baseUrl: "https://x.test/base///" }).baseUrl).toBe("https://x.test/base");
  });
});

describe("oauth2 endpoints", () => {
  const o2: NamedProfile = { name: "o", provider: "oauth2", clientId: "c", clientSecret: "s" };

  it("token and authorization URLs normalised; the issuer kept exactly as written", () => {
    const p = validateProfile({
      ...o2,
      issuer: "https://idp.test/realms/x/",
      tokenUrl: "https://idp.test/token/",
      authorizationUrl: "https://idp.test/auth/",
    });
    expect(p.issuer).toBe("https://idp.test/realms/x/");
    expect(p.tokenUrl).toBe("https://idp.test/token");
    expect(p.authorizationUrl).toBe("https://idp.test/auth");
  });

  it("each is checked as a URL", () => {
    expect(problems({ ...o2, tokenUrl: "http://idp.test/token" })[0]).toMatch(/^token_url: must use https:\/\//);
    expect(problems({ ...o2, issuer: "idp", tokenUrl: "https://idp.test/t" })[0]).toMatch(/^issuer: "idp" is not/);
    expect(problems({ ...o2, tokenUrl: "https://idp.test/t", authorizationUrl: "https://idp.test/a?x=1" })[0]).toBe(
      "authorization_url: must not have a query string or fragment",
    );
  });

  it("other providers refuse them, except the token URL where the provider takes one", () => {
    expect(problems({ ...gl, issuer: "https://i", authorizationUrl: "https://a", grantType: "password" })).toEqual([
      "issuer: only used by the oauth2 provider (this profile is greenlake)",
      "authorization_url: only used by the oauth2 provider (this profile is greenlake)",
      "grant_type: only used by the oauth2 provider (this profile is greenlake)",
    ]);
    const glp = validateProfile({
      name: "g",
      provider: "greenlake-platform",
      clientId: "c",
      clientSecret: "s",
      tokenUrl: "https://sso.test/as/token.oauth2/",
    });
    expect(glp.tokenUrl).toBe("https://sso.test/as/token.oauth2");
    expect(
      problems({ name: "g", provider: "greenlake-platform", clientId: "c", clientSecret: "s", tokenUrl: "nope" }),
    ).toEqual(['token_url: "nope" is not an absolute URL (expected e.g. https://host)']);
  });
});

describe("other fields", () => {
  it("copied as given", () => {
    const p = validateProfile({
      name: "a",
      provider: "aruba-central",
      region: "US-1",
      clientId: "cid",
      clientSecretEnv: "S",
      username: "u@x",
      passwordCommand: "pass show x",
      customerId: "cust",
      scope: "read",
      redirectUri: "https://app.test/cb",
      caFile: "/etc/ca.pem",
      proxy: "proxy.corp:3128",
    });
    expect(p).toMatchObject({
      clientId: "cid",
      username: "u@x",
      customerId: "cust",
      scope: "read",
      redirectUri: "https://app.test/cb",
      caFile: "/etc/ca.pem",
      proxy: "proxy.corp:3128",
    });
    expect(p.clientSecret?.toJSON()).toEqual({ field: "clientSecret", kind: "env", source: "S" });
    expect(p.password?.toJSON()).toEqual({ field: "password", kind: "command", source: "pass show x" });
    const o = validateProfile({
      name: "o",
      provider: "oauth2",
      clientId: "c",
      tokenUrl: "https://t",
      grantType: "client_credentials",
      clientSecret: "s",
    });
    expect(o.grantType).toBe("client_credentials");
  });

  it("a redirect URI must be absolute", () => {
    expect(problems({ ...gl, redirectUri: "/callback" })).toEqual([
      'redirect_uri: "/callback" is not an absolute URI (e.g. http://localhost:8765/callback)',
    ]);
  });

  it("client_auth: the three methods only", () => {
    for (const m of ["client_secret_basic", "client_secret_post"] as const) {
      expect(validateProfile({ ...gl, clientAuth: m }).clientAuth).toBe(m);
    }
    const pub = validateProfile({
      name: "o",
      provider: "oauth2",
      clientId: "c",
      tokenUrl: "https://idp.test/t",
      authorizationUrl: "https://idp.test/a",
      grantType: "authorization_code",
      clientAuth: "none",
    });
    expect(pub.clientAuth).toBe("none");
    expect(problems({ ...gl, clientAuth: "basic" as never })).toEqual([
      'client_auth: expected client_secret_basic, client_secret_post or none, got "basic"',
    ]);
  });

  it("token_params: a table of strings that cannot replace a protocol parameter", () => {
    expect(validateProfile({ ...gl, tokenParams: { audience: "api", resource: "r" } }).tokenParams).toEqual({
      audience: "api",
      resource: "r",
    });
    expect(validateProfile(gl).tokenParams).toEqual({});
    for (const bad of ["a=b", null, ["a"]]) {
      expect(problems({ ...gl, tokenParams: bad as never }), String(bad)).toEqual([
        "token_params: expected a table of string values",
      ]);
    }
    expect(problems({ ...gl, tokenParams: { n: 1 as never, ok: "x" } })).toEqual(["token_params.n: expected a string"]);
    for (const k of ["grant_type", "client_secret", "refresh_token", "code", "password"]) {
      expect(problems({ ...gl, tokenParams: { [k]: "x" } })).toEqual([
        `token_params.${k}: may not override a protocol parameter`,
      ]);
    }
  });

  it("client_secret_created_at: a YYYY-MM-DD date, midnight UTC", () => {
    const t = { name: "t", provider: "techpulse" as const, clientId: "c", clientSecret: "s" };
    expect(validateProfile({ ...t, clientSecretCreatedAt: "2025-03-04" }).clientSecretCreatedAt).toEqual(
      new Date(Date.UTC(2025, 2, 4)),
    );
    for (const bad of ["2025-3-4", "2025-13-01", "04/03/2025", "2025-03-04T10:00:00Z", " 2025-03-04"]) {
      expect(problems({ ...t, clientSecretCreatedAt: bad }), bad).toEqual([
        `client_secret_created_at: expected a date as YYYY-MM-DD, got "${bad}"`,
      ]);
    }
  });

  it("callback_port: a whole number from 1 to 65535, also as text", () => {
    for (const [v, port] of [
      [1, 1],
      [65535, 65535],
      ["8765", 8765],
    ] as const) {
      expect(validateProfile({ ...gl, callbackPort: v as number }).callbackPort).toBe(port);
    }
    for (const bad of [0, 65536, 80.5, -1, "x"]) {
      expect(problems({ ...gl, callbackPort: bad as number })).toEqual([
        `callback_port: expected a port number 1-65535, got "${bad}"`,
      ]);
    }
  });

  it("pkce: on unless set false; nothing but a boolean", () => {
    expect(validateProfile(gl).pkce).toBe(true);
    expect(validateProfile({ ...gl, pkce: false }).pkce).toBe(false);
    expect(validateProfile({ ...gl, pkce: true }).pkce).toBe(true);
    expect(problems({ ...gl, pkce: "no" as never })).toEqual(["pkce: expected true or false"]);
  });

  it("proxy: a proxy URL, the reason worded once", () => {
    expect(problems({ ...gl, proxy: "socks5://p:1080" })).toEqual([
      "proxy: proxy scheme socks5: is not supported (expected http://host:port)",
    ]);
    expect(validateProfile({ ...gl, proxy: "" })).not.toHaveProperty("proxy");
  });
});

describe("secrets", () => {
  it("one source per secret; an empty inline value is none", () => {
    expect(problems({ ...gl, clientSecretEnv: "S" })).toEqual([
      "client_secret: give only one of client_secret, client_secret_env or client_secret_command",
    ]);
    expect(problems({ ...gl, clientSecret: undefined, clientSecretEnv: "S", clientSecretCommand: "c" })).toEqual([
      "client_secret: give only one of client_secret, client_secret_env or client_secret_command",
    ]);
    const e = validateProfile({ ...gl, clientSecret: "", clientSecretCommand: "pass x" });
    expect(e.clientSecret?.toJSON()).toEqual({ field: "clientSecret", kind: "command", source: "pass x" });
  });

  it("an environment variable name, checked", () => {
    for (const ok of ["S", "_S1", "gl_secret"]) {
      expect(validateProfile({ ...gl, clientSecret: undefined, clientSecretEnv: ok }).clientSecret?.source).toBe(ok);
    }
    for (const bad of ["1S", "A-B", "A B", "$S"]) {
      expect(problems({ ...gl, clientSecret: undefined, clientSecretEnv: bad })).toEqual([
        `client_secret_env: "${bad}" is not an environment variable name`,
      ]);
    }
  });

  it("an inline secret is kept out of the resolved profile's JSON", () => {
    const p = validateProfile({ ...gl, clientSecret: "inline-value-x" });
    expect(p.clientSecret?.inlineValue()).toBe("inline-value-x");
    expect(JSON.stringify(p)).not.toContain("inline-value-x");
  });

  it("a required secret that is missing names its alternatives; a bad one is not reported twice", () => {
    expect(problems({ ...gl, clientSecret: undefined })).toEqual([
      "client_secret: required: API client secret (shown once at creation) (or client_secret_env / client_secret_command)",
    ]);
    expect(problems({ ...gl, clientSecret: undefined, clientSecretEnv: "1x" })).toEqual([
      'client_secret_env: "1x" is not an environment variable name',
    ]);
    expect(problems({ name: "w", provider: "wxp", username: "u", passwordEnv: "1x" })).toEqual([
      'password_env: "1x" is not an environment variable name',
    ]);
    expect(problems({ name: "w", provider: "wxp", password: "p" })).toEqual([
      "username: required: WXP Collaboration user name",
    ]);
  });
});

describe("providerFields", () => {
  it("each field, a secret's env and command alternatives after it, and a base URL override", () => {
    const f = providerFields("greenlake");
    expect(f.map((x) => x.name)).toEqual([
      "region",
      "clientId",
      "clientSecret",
      "clientSecretEnv",
      "clientSecretCommand",
      "clientAuth",
      "apiBaseUrl",
      "baseUrl",
    ]);
    expect(f.find((x) => x.name === "clientSecretEnv")).toEqual({
      name: "clientSecretEnv",
      required: false,
      description: "name of an environment variable holding the client_secret",
    });
    expect(f.find((x) => x.name === "clientSecretCommand")).toEqual({
      name: "clientSecretCommand",
      required: false,
      description: "command whose stdout is the client_secret (run via /bin/sh)",
    });
    expect(f.find((x) => x.name === "baseUrl")).toEqual({
      name: "baseUrl",
      required: false,
      description: "override the identity service origin (emulator, proxy, test tenant)",
    });
    const w = providerFields("wxp").map((x) => x.name);
    expect(w).toContain("passwordEnv");
    expect(w).toContain("passwordCommand");
  });

  it("a provider whose base URL is a field of its own keeps that one", () => {
    const base = providerFields("hpe-identity").filter((x) => x.name === "baseUrl");
    expect(base).toEqual([
      { name: "baseUrl", required: true, description: "gateway base, e.g. https://api-gw.support.hpe.com/apigwext" },
    ]);
  });

  it("the list is a copy: changing it changes no provider", () => {
    const f = providerFields("greenlake");
    (f[0] as { required: boolean }).required = true;
    expect(providerFields("greenlake")[0]?.required).toBe(false);
  });

  it("an unknown provider is a TypeError", () => {
    expect(() => providerFields("nope" as never)).toThrow(new TypeError('unknown provider "nope"'));
  });
});

describe("store keys", () => {
  const glp = (extra: Partial<NamedProfile> = {}) =>
    validateProfile({ name: "g", provider: "greenlake-platform", clientId: "c", clientSecret: "s", ...extra });

  it("a workspace and an MSP tenant are part of a GreenLake platform credential", () => {
    const plain = credentialKey(glp());
    const ws = credentialKey(glp({ workspaceId: "ws1" }));
    const ws2 = credentialKey(glp({ workspaceId: "ws2" }));
    const tenant = credentialKey(glp({ workspaceId: "ws1", tenantWorkspaceId: "t1" }));
    expect(new Set([plain, ws, ws2, tenant]).size).toBe(4);
    for (const k of [plain, ws, tenant]) expect(k).toMatch(/^greenlake-platform-[0-9a-f]{24}$/);
    // Stored keys: the parts, absent ones empty, then the workspace and the tenant (empty when only one is set).
    const key = (...parts: Array<string | undefined>) =>
      `greenlake-platform-${createHash("sha256").update(parts.join("\u0000"), "utf8").digest("hex").slice(0, 24)}`;
    const w = glp({ workspaceId: "ws1" });
    expect(ws).toBe(key("greenlake-platform", w.tokenUrl, "c", "", "", "workspace:ws1", "tenant:"));
    const t = glp({ workspaceId: "ws1", tenantWorkspaceId: "t1" });
    expect(tenant).toBe(key("greenlake-platform", t.tokenUrl, "c", "", "", "workspace:ws1", "tenant:t1"));
    expect(plain).toBe(key("greenlake-platform", glp().tokenUrl, "c", "", ""));
  });

  it("new Central shares the GreenLake platform's tokens for the same client", () => {
    const glpKey = credentialKey(glp({ tokenUrl: "https://sso.test/as/token.oauth2" }));
    const nc = validateProfile({
      name: "n",
      provider: "new-central",
      region: "EU-1",
      clientId: "c",
      clientSecret: "s",
      tokenUrl: "https://sso.test/as/token.oauth2",
    });
    expect(credentialKey(nc)).toBe(glpKey);
  });

  it("the login budget is per client id: the same for every user and profile, another for another client", () => {
    const a = { name: "a", provider: "aruba-central" as const, region: "US-1", clientSecret: "s" };
    const k1 = loginBudgetKey(validateProfile({ ...a, clientId: "c1", username: "u1" }));
    const k1b = loginBudgetKey(validateProfile({ ...a, name: "b", clientId: "c1", username: "u2", region: "EU-1" }));
    const k2 = loginBudgetKey(validateProfile({ ...a, clientId: "c2", username: "u1" }));
    expect(k1).toBe(k1b);
    expect(k1).not.toBe(k2);
    // A stored key: every hpauth version and process must find the same budget record.
    const sha = createHash("sha256").update(["aruba-central", "login-budget", "c1"].join("\u0000"), "utf8");
    expect(k1).toBe(`aruba-central-budget-${sha.digest("hex").slice(0, 24)}`);
  });
});
