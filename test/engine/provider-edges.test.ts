/**
 * The edges of the presets' promises that the end-to-end tests do not reach: expires_in strings that Number() would
 * read but the protocol does not allow, Aruba's step-1 refusals, the GreenLake platform's MSP token exchange when the
 * tenant's issuer refuses the subject token, and the oauth2 code exchange and refresh that must not be sent twice.
 * A scripted token endpoint on a real loopback socket answers; the emulator where its answers suffice.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTokenManager } from "../../src/engine/manager.js";
import { basicEncodingNote } from "../../src/engine/providers/oauth2-flow.js";
import type { NamedProfile } from "../../src/engine/types.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import { useHarness } from "./helpers.js";

interface Answer {
  status?: number;
  body?: unknown;
  headers?: Record<string, string | string[]>;
}
interface Seen {
  url: URL;
  headers: IncomingMessage["headers"];
  body: string;
}

let server: Server;
let base = "";
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
      seen.push({ url: new URL(req.url ?? "/", base), headers: req.headers, body });
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
const runtime = { now: () => NOW, sleep: async () => {}, env: {} };
const RETRY = { retry: { attempts: 1, baseDelayMs: 1 } };

function manager(profile: NamedProfile) {
  const store = new MemoryTokenStore();
  return Object.assign(createTokenManager({ profile, store, runtime, ...RETRY }), { store });
}

async function fails(p: Promise<unknown>): Promise<Record<string, unknown> & Error> {
  return p.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e as Record<string, unknown> & Error,
  );
}

describe("expires_in: a number, or a string of digits only", () => {
  const life = async (expires: unknown) => {
    script = [{ body: { access_token: "opaque-access-token-1", expires_in: expires } }];
    const m = manager({ name: "id", provider: "hpe-identity", baseUrl: base, clientId: "c", clientSecret: "s" });
    const t = await m.getToken();
    return (t.expiresAt.getTime() - NOW) / 1000;
  };
  // 3599 s is Identity's documented lifetime, used when the answer says nothing usable; 3600 s its cap.
  it.each([" 600", "600 ", "+600", "1e3", "0x10", "6.5", ""])("%j is not a lifetime", async (v) => {
    expect(await life(v)).toBe(3599);
  });
  it("a string of 400 digits is no lifetime either (Number() makes it Infinity)", async () => {
    expect(await life("9".repeat(400))).toBe(3599);
  });
  it("digits only: taken as seconds", async () => {
    expect(await life("0600")).toBe(600);
  });
});

describe("Aruba step 1", () => {
  const profile: NamedProfile = {
    name: "ar",
    provider: "aruba-central",
    clientId: "ar-client",
    clientSecret: "ar-secret-abcdef",
    username: "u",
    password: "ar-password-abcdef",
    customerId: "cust",
    baseUrl: "",
  };
  it.each([
    [401, "INVALID_GRANT"],
    [403, "INVALID_GRANT"],
    [400, "UNAUTHORIZED"],
    [404, "UNAUTHORIZED"],
  ])("HTTP %s: %s, with the login hint and the server's words, redacted", async (status, code) => {
    script = [{ status, body: { message: "no: ar-password-abcdef" } }];
    const e = await fails(manager({ ...profile, baseUrl: base }).getToken());
    expect(e).toMatchObject({ code, status, provider: "aruba-central", profile: "ar" });
    expect(e.hint).toBe("Check the username, password and client id.");
    expect(e.message).toMatch(new RegExp(`^Aruba login \\(step 1\\) refused: HTTP ${status}: .*no: `));
    expect(e.message).not.toContain("ar-password-abcdef");
    expect(seen).toHaveLength(1);
  });
});

describe("Aruba refresh", () => {
  it("a POST with JSON content type and accept headers, the parameters in the query string, no body", async () => {
    const cookies = { "set-cookie": ["csrftoken=c1; Path=/", "session=s1; Path=/"] };
    const pair = (n: number) => ({
      access_token: `opaque-${n}`,
      refresh_token: `refresh-${n}`,
      token_type: "bearer",
      expires_in: 7200,
    });
    script = [{ body: {}, headers: cookies }, { body: { auth_code: "code-1" } }, { body: pair(1) }, { body: pair(2) }];
    let clock = NOW;
    const m = createTokenManager({
      profile: {
        name: "ar",
        provider: "aruba-central",
        baseUrl: base,
        clientId: "ar-client",
        clientSecret: "ar-secret",
        username: "u",
        password: "p",
        customerId: "c",
      },
      store: new MemoryTokenStore(),
      runtime: { ...runtime, now: () => clock },
      ...RETRY,
    });
    await m.getToken();
    clock += 7200_000;
    expect((await m.getToken()).accessToken).toBe("opaque-2");
    const r = seen[3]!;
    expect(r.headers["content-type"]).toBe("application/json");
    expect(r.headers.accept).toBe("application/json");
    expect(r.body).toBe("");
    expect(r.url.searchParams.get("refresh_token")).toBe("refresh-1");
  });
});

describe("MSP token exchange, refused by the tenant's issuer", () => {
  const MSP = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
  const TENANT = "11111111222233334444555555555555";
  const profile: NamedProfile = {
    name: "t",
    provider: "greenlake-platform",
    clientId: "glp-client",
    clientSecret: "glp-secret-abcdef",
    workspaceId: MSP,
    tenantWorkspaceId: TENANT,
    baseUrl: "",
  };
  const MSP_TOKEN = (n: number): Answer => ({ body: { access_token: `msp-token-${n}`, expires_in: 900 } });
  const TENANT_TOKEN: Answer = { body: { access_token: "tenant-token", expires_in: 900 } };
  const paths = () => seen.map((s) => s.url.pathname);
  const mspPath = `/authorization/v2/oauth2/${MSP}/token`;
  const tenantPath = `/authorization/v2/oauth2/${TENANT}/token`;

  it.each([
    [401, undefined],
    [400, "invalid_request"],
    [400, "invalid_grant"],
  ])("HTTP %s %s: the subject is renewed once and the exchange sent once more", async (status, error) => {
    script = [MSP_TOKEN(1), { status, body: error ? { error } : undefined }, MSP_TOKEN(2), TENANT_TOKEN];
    const t = await manager({ ...profile, baseUrl: base }).getToken();
    expect(t.accessToken).toBe("tenant-token");
    expect(paths()).toEqual([mspPath, tenantPath, mspPath, tenantPath]);
    expect(new URLSearchParams(seen[1]!.body).get("subject_token")).toBe("msp-token-1");
    expect(new URLSearchParams(seen[3]!.body).get("subject_token")).toBe("msp-token-2");
  });

  it("refused twice: INVALID_GRANT with the second refusal's words, its status and a hint naming both workspaces", async () => {
    script = [
      MSP_TOKEN(1),
      { status: 400, body: { error: "invalid_request", error_description: "first" } },
      MSP_TOKEN(2),
      { status: 401, body: { error: "invalid_token", error_description: "second" } },
    ];
    const e = await fails(manager({ ...profile, baseUrl: base }).getToken());
    expect(e).toMatchObject({ code: "INVALID_GRANT", status: 401, provider: "greenlake-platform", profile: "t" });
    expect(e.message).toMatch(new RegExp(`^MSP token exchange for workspace ${TENANT} refused: HTTP 401: .*second`));
    expect(e.hint).toBe(
      `Check that workspace ${TENANT} is a tenant of the MSP workspace ${MSP} and that the API client may act for it.`,
    );
    expect(seen).toHaveLength(4);
  });

  it("another refusal (403, or invalid_scope) is final: no renewal", async () => {
    script = [MSP_TOKEN(1), { status: 403, body: { error: "access_denied" } }];
    const e = await fails(manager({ ...profile, baseUrl: base }).getToken());
    expect(e).toMatchObject({ code: "ACCESS_DENIED", status: 403 });
    expect(paths()).toEqual([mspPath, tenantPath]);
    seen = [];
    script = [MSP_TOKEN(1), { status: 400, body: { error: "invalid_scope" } }];
    const s = await fails(manager({ ...profile, baseUrl: base }).getToken());
    expect(s).toMatchObject({ code: "INVALID_GRANT", status: 400, oauthError: "invalid_scope" });
    expect(paths()).toEqual([mspPath, tenantPath]);
  });

  it("a renewed subject refused for another reason: that refusal, as is", async () => {
    script = [MSP_TOKEN(1), { status: 401 }, MSP_TOKEN(2), { status: 404, body: { error: "nope" } }];
    const e = await fails(manager({ ...profile, baseUrl: base }).getToken());
    expect(e).toMatchObject({ code: "UNAUTHORIZED", status: 404, oauthError: "nope" });
  });

  it("not a tenant (invalid_target): INVALID_GRANT at once, with the status and the cause", async () => {
    script = [MSP_TOKEN(1), { status: 400, body: { error: "invalid_target" } }];
    const e = await fails(manager({ ...profile, baseUrl: base }).getToken());
    expect(e).toMatchObject({
      code: "INVALID_GRANT",
      status: 400,
      oauthError: "invalid_target",
      provider: "greenlake-platform",
      profile: "t",
    });
    expect(e.message).toMatch(new RegExp(`^MSP token exchange for workspace ${TENANT} refused: HTTP 400`));
    expect(e.cause).toMatchObject({ code: "INVALID_GRANT", oauthError: "invalid_target" });
    expect(seen).toHaveLength(2);
  });

  it("the API client refused at its workspace's issuer: INVALID_CLIENT naming the workspace, the server's details kept", async () => {
    script = [{ status: 401, body: { error: "invalid_client", error_description: "unknown client" } }];
    const e = await fails(manager({ ...profile, tenantWorkspaceId: undefined, baseUrl: base }).getToken());
    expect(e).toMatchObject({
      code: "INVALID_CLIENT",
      status: 401,
      oauthError: "invalid_client",
      provider: "greenlake-platform",
      profile: "t",
    });
    expect(e.message).toMatch(/^GreenLake platform token request refused: HTTP 401: .*unknown client/);
    expect(e.hint).toBe(
      `Check the client id and secret, and that the API client was created in workspace ${MSP} (an API client belongs to one workspace).`,
    );
    expect(e.cause).toMatchObject({ code: "INVALID_CLIENT" });
    // Without a workspace (the SSO), the plain client hint.
    const sso = await fails(
      manager({
        ...profile,
        workspaceId: undefined,
        tenantWorkspaceId: undefined,
        tokenUrl: `${base}/as/token.oauth2`,
      }).getToken(),
    );
    expect(sso.hint).toBe("Check the client id and client secret (they may have expired or been reset).");
    // Another refusal at the workspace's issuer is left as it is.
    script = [{ status: 400, body: { error: "invalid_scope" } }];
    const other = await fails(manager({ ...profile, tenantWorkspaceId: undefined, baseUrl: base }).getToken());
    expect(other).toMatchObject({ code: "INVALID_GRANT", hint: "Check the username and password." });
  });
});

describe("oauth2: a code exchange and a refresh are sent once", () => {
  const authorizer = async () => ({ code: "code-1", redirectUri: "http://127.0.0.1:7777/cb" });
  it("a 2xx whose body cannot be read is ANSWER_LOST (the code may have been spent), not retried", async () => {
    script = [{ body: "{not json" }];
    const m = createTokenManager({
      profile: {
        name: "o",
        provider: "oauth2",
        clientId: "c1",
        tokenUrl: `${base}/token`,
        authorizationUrl: "https://as.example.com/authorize",
        grantType: "authorization_code",
      },
      store: new MemoryTokenStore(),
      runtime,
      authorizer,
      retry: { attempts: 3, baseDelayMs: 1 },
    });
    const e = await fails(m.getToken());
    expect(e.code).toBe("ANSWER_LOST");
    expect(seen).toHaveLength(1);
  });

  it("the same for a refresh; a client_credentials grant may repeat", async () => {
    script = [
      { body: { access_token: "at-1", token_type: "Bearer", refresh_token: "rt-1", expires_in: 60 } },
      { body: "{not json" },
    ];
    const m = createTokenManager({
      profile: { name: "o", provider: "oauth2", clientId: "c1", clientSecret: "s1", tokenUrl: `${base}/token` },
      store: new MemoryTokenStore(),
      runtime,
      retry: { attempts: 3, baseDelayMs: 1 },
    });
    await m.getToken();
    const e = await fails(m.getToken({ forceRefresh: true }));
    expect(e.code).toBe("ANSWER_LOST");
    expect(seen).toHaveLength(2);
    seen = [];
    script = [{ body: "{not json" }, { body: { access_token: "at-2", token_type: "Bearer", expires_in: 60 } }];
    const cc = createTokenManager({
      profile: { name: "o2", provider: "oauth2", clientId: "c1", clientSecret: "s1", tokenUrl: `${base}/token` },
      store: new MemoryTokenStore(),
      runtime,
      retry: { attempts: 3, baseDelayMs: 1 },
    });
    expect((await cc.getToken()).accessToken).toBe("at-2");
    expect(seen).toHaveLength(2);
  });
});

describe("techpulse: what the browser login is given", () => {
  const h = useHarness();
  it("the registered redirect URI, the fixed callback port, no PKCE, the caller's signal", async () => {
    const got: Array<Record<string, unknown>> = [];
    const controller = new AbortController();
    const m = h.manager(
      "techpulse",
      { callbackPort: 8765 },
      {
        authorizer: async (req) => {
          got.push({ ...req });
          throw new Error("stop here");
        },
      },
    );
    await fails(m.getToken({ signal: controller.signal }));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      provider: "techpulse",
      profile: "techpulse-test",
      redirectUri: h.emu.providers.techpulse.redirectUri,
      callbackPort: 8765,
      pkce: false,
    });
    expect(got[0]!.signal).toBeInstanceOf(AbortSignal);
    const none = h.manager(
      "techpulse",
      { redirectUri: undefined },
      {
        authorizer: async (req) => {
          got.push({ ...req });
          throw new Error("stop here");
        },
      },
    );
    await fails(none.getToken());
    expect(got[1]).not.toHaveProperty("redirectUri");
    expect(got[1]).not.toHaveProperty("callbackPort");
  });
});

describe("client_secret_basic's encoding note names the characters that change", () => {
  it.each(["-", "_", ".", "!", "~", "*", "'", "(", ")", " ", "%", ":", "+", "/", "é"])("%j in the client id", (c) => {
    expect(basicEncodingNote(`a${c}b`, "plain")).toBe(
      `client_secret_basic form-encodes the client id and secret before base64 (RFC 6749 §2.3.1) and the client id contains "${c}" that this encoding changes; many servers never decode it. Set \`client_auth = "client_secret_post"\` in the profile (or --client-auth client_secret_post), or check the client id and secret.`,
    );
  });
  it("each character once, in order; the secret never quoted", () => {
    expect(basicEncodingNote("a.b-c.d", "x~y")).toContain(
      'the client id contains "." "-" and the client secret contains characters that this encoding changes',
    );
    expect(basicEncodingNote("Az09", "Az09")).toBeUndefined();
    expect(basicEncodingNote("ab", "a~b")).toContain(" and the client secret contains characters that this encoding");
  });
});
