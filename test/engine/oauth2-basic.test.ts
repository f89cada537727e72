/**
 * Issue 7.19: oauth4webapi sends client_secret_basic form-encoded, as RFC 6749 §2.3.1 requires; many servers
 * base64-decode the header and never form-decode it (oauth2-server, spring-security-oauth #1826). Against such a
 * server — a real one over a socket, below — an id or secret with `-` `.` `_` … is refused, and the hint must say why
 * and name `client_auth = "client_secret_post"`.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenManager } from "../../src/engine/manager.js";
import type { NamedProfile } from "../../src/engine/types.js";

const ID = "my-app.prod_v2";
const SECRET = "s3cr3t~with.dots";
let server: Server;
let tokenUrl = "";

beforeAll(async () => {
  // A token endpoint that reads Basic the way those servers do: base64, split at the first colon, no decoding.
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const form = new URLSearchParams(body);
      const m = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
      let id = form.get("client_id");
      let secret = form.get("client_secret");
      if (m) {
        const raw = Buffer.from(m[1] ?? "", "base64").toString("utf8");
        id = raw.slice(0, raw.indexOf(":"));
        secret = raw.slice(raw.indexOf(":") + 1);
      }
      const withChallenge = req.url?.includes("challenge");
      if (id !== ID || secret !== SECRET) {
        res.writeHead(401, {
          "content-type": "application/json",
          ...(withChallenge && m ? { "www-authenticate": 'Basic realm="oauth"' } : {}),
        });
        res.end(JSON.stringify({ error: "invalid_client", error_description: "Bad client credentials" }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify({ access_token: `at-${Date.now()}`, token_type: "Bearer", expires_in: 600 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  tokenUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/token`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

function manager(extra: Partial<NamedProfile>) {
  const profile: NamedProfile = {
    name: "strict",
    provider: "oauth2",
    tokenUrl,
    clientId: ID,
    clientSecret: SECRET,
    ...extra,
  };
  return createTokenManager({ profile, runtime: { env: {} } });
}

describe("client_secret_basic refused by a server that does not form-decode", () => {
  it.each([
    ["an OAuth error body", ""],
    ["a WWW-Authenticate challenge", "/challenge"],
  ])("with %s: INVALID_CLIENT whose hint explains the encoding and names client_secret_post", async (_n, q) => {
    const err = await manager({ tokenUrl: `${tokenUrl}${q}`, clientAuth: "client_secret_basic" })
      .getToken()
      .catch((e) => e);
    expect(err.code).toBe("INVALID_CLIENT");
    expect(err.status).toBe(401);
    expect(err.hint).toContain('the client id contains "-" "." "_"');
    expect(err.hint).toContain("the client secret contains characters");
    expect(err.hint).toContain('client_auth = "client_secret_post"');
    expect(err.hint).toContain("RFC 6749 §2.3.1");
    expect(JSON.stringify({ m: err.message, h: err.hint })).not.toContain(SECRET);
  });

  it("the advice works: client_secret_post gets a token", async () => {
    const t = await manager({ clientAuth: "client_secret_post" }).getToken();
    expect(t.accessToken).toMatch(/^at-/);
  });

  it("credentials the encoding leaves alone: the plain hint, no talk of encoding", async () => {
    const err = await manager({ clientId: "plainid", clientSecret: "plainsecret", clientAuth: "client_secret_basic" })
      .getToken()
      .catch((e) => e);
    expect(err.code).toBe("INVALID_CLIENT");
    expect(err.hint).toBe("Check the client id, client secret and client_auth.");
  });
});
