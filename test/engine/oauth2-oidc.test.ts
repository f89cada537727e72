/** The oauth2 provider against a real authorization server (oidc-provider, in-process, loopback). */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenManager } from "../../src/engine/manager.js";
import type { NamedProfile } from "../../src/engine/types.js";

let server: Server;
let issuer: string;
let tokenRequests = 0;

beforeAll(async () => {
  server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "cc-basic",
        client_secret: "cc-basic-secret-0123456789",
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
      },
      {
        client_id: "cc-post",
        client_secret: "cc-post-secret-0123456789",
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_post",
      },
    ],
    features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
    scopes: ["api:read"],
    cookies: { keys: ["test-only-cookie-key-0123456789"] },
  });
  const cb = provider.callback();
  server.on("request", (req, res) => {
    if (req.url?.startsWith("/token")) tokenRequests++;
    cb(req, res);
  });
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
});

function profile(extra: Partial<NamedProfile>): NamedProfile {
  return { name: "oidc", provider: "oauth2", ...extra };
}

describe("oauth2 provider against oidc-provider", () => {
  it("client_credentials with discovery and client_secret_basic; cached afterwards", async () => {
    const m = createTokenManager({
      profile: profile({ issuer, clientId: "cc-basic", clientSecret: "cc-basic-secret-0123456789", scope: "api:read" }),
    });
    const before = tokenRequests;
    const t = await m.getToken();
    expect(t.source).toBe("login");
    expect(t.tokenType).toBe("Bearer");
    expect(t.expiresAt.getTime()).toBeGreaterThan(Date.now() + 60_000);
    expect((await m.getToken()).source).toBe("cache");
    expect(tokenRequests - before).toBe(1);
  });

  it("client_credentials with an explicit tokenUrl and client_secret_post", async () => {
    const m = createTokenManager({
      profile: profile({
        tokenUrl: `${issuer}/token`,
        clientId: "cc-post",
        clientSecret: "cc-post-secret-0123456789",
        clientAuth: "client_secret_post",
      }),
    });
    expect((await m.getToken()).source).toBe("login");
  });

  it("a wrong secret is INVALID_CLIENT, redacted, not retried", async () => {
    const m = createTokenManager({
      profile: profile({ issuer, clientId: "cc-basic", clientSecret: "wrong-secret-abcdef" }),
    });
    const before = tokenRequests;
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("INVALID_CLIENT");
    expect(err.message).not.toContain("wrong-secret-abcdef");
    expect(tokenRequests - before).toBe(1);
  });
});
