/**
 * hpauth/undici against the emulator over real sockets, with a copy of undici that is NOT the one hpauth depends
 * on (`undici-user-copy`, undici 7.10): the interceptor must work through undici's public interface alone.
 * The package entry (`hpauth/undici`, dist/) is what is imported, as a user would.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { Agent, request, fetch as userFetch } from "undici-user-copy";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useHarness } from "../engine/helpers.js";

const { authInterceptor } = await import("hpauth/undici");

const h = useHarness();

/** A small API that refuses every token (or as told), recording what it saw. */
interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
  body: string;
}
let api: Server;
let apiUrl: string;
let other: Server;
let otherUrl: string;
const seen: Seen[] = [];
const otherSeen: Seen[] = [];
let answer: (req: IncomingMessage, n: number) => { status: number; body: string } = () => ({
  status: 401,
  body: '{"error":"invalid_token"}',
});

function recorder(log: Seen[], respond: (req: IncomingMessage, n: number) => { status: number; body: string }) {
  return createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      log.push({ method: req.method ?? "", path: req.url ?? "", authorization: req.headers.authorization, body });
      const a = respond(req, log.length);
      res.writeHead(a.status, { "content-type": "application/json" }).end(a.body);
    });
  });
}

async function listen(s: Server): Promise<string> {
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  api = recorder(seen, (req, n) => answer(req, n));
  other = recorder(otherSeen, () => ({ status: 200, body: "{}" }));
  apiUrl = await listen(api);
  otherUrl = await listen(other);
});
afterAll(async () => {
  await new Promise((r) => api.close(r));
  await new Promise((r) => other.close(r));
});

describe("hpauth/undici authInterceptor", () => {
  it("GreenLake: Bearer on the API origin, the cached token for the next request", async () => {
    const m = h.manager("greenlake");
    const agent = new Agent().compose(authInterceptor(m));
    try {
      const base = m.apiUrl("/").origin;
      const r1 = await request(`${base}/api/v1/storage-systems?limit=2`, { dispatcher: agent });
      expect(r1.statusCode).toBe(200);
      const body = (await r1.body.json()) as { items: unknown[]; total: number };
      expect(body.items).toHaveLength(2);
      const r2 = await request(`${base}/api/v1/storage-systems`, { dispatcher: agent });
      expect(r2.statusCode).toBe(200);
      await r2.body.dump();
      // fetch through the same dispatcher works too.
      const r3 = await userFetch(`${base}/api/v1/storage-systems`, { dispatcher: agent });
      expect(r3.status).toBe(200);
      await r3.arrayBuffer();
      const c = await h.counters("greenlake");
      expect(c.tokensIssued).toBe(1);
      expect(c.apiCalls).toBe(3);
    } finally {
      await agent.close();
    }
  });

  it("GreenLake after an admin revoke: 20 concurrent requests, one new grant, each retried once, all 200", async () => {
    const m = h.manager("greenlake");
    const agent = new Agent().compose(authInterceptor(m));
    try {
      const url = m.apiUrl("/api/v1/storage-systems");
      const warm = await request(url, { dispatcher: agent });
      await warm.body.dump();
      await h.emu.admin.revoke("greenlake");
      await h.emu.admin.resetCounters();
      const results = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const r = await request(url, { dispatcher: agent });
          await r.body.dump();
          return r.statusCode;
        }),
      );
      expect(results).toEqual(Array(20).fill(200));
      const c = await h.counters("greenlake");
      expect(c.tokensIssued).toBe(1);
      expect(c.apiCalls).toBe(40);
      expect(c.refusals.revoked_token).toBe(20);
    } finally {
      await agent.close();
    }
  });

  it("Aruba: an access token the API calls expired is renewed by one rotating refresh, not a login", async () => {
    // The engine's clock is real time while the emulator's runs 2 h ahead: the engine still trusts its token, the
    // API refuses it — the 401 path, not the proactive refresh.
    const m = h.manager("aruba-central", {}, { runtime: { now: Date.now } });
    const agent = new Agent().compose(authInterceptor(m));
    try {
      const url = m.apiUrl("/monitoring/v2/aps?limit=1");
      const first = await request(url, { dispatcher: agent });
      expect(first.statusCode).toBe(200);
      await first.body.dump();
      const before = await m.getToken();
      await h.emu.admin.advanceClock(7300);
      const r = await request(url, { dispatcher: agent });
      expect(r.statusCode).toBe(200);
      expect(((await r.body.json()) as { aps: unknown[] }).aps).toHaveLength(1);
      const c = await h.counters("aruba-central");
      expect(c.logins).toBe(1);
      expect(c.refreshes).toBe(1);
      expect(c.refusals.expired_token).toBe(1);
      const after = await m.getToken();
      expect(after.accessToken).not.toBe(before.accessToken);
    } finally {
      await agent.close();
    }
  });

  it("Aruba after an admin revoke within the login budget: the caller gets LOGIN_BUDGET_EXHAUSTED, one login only", async () => {
    const m = h.manager("aruba-central");
    const agent = new Agent().compose(authInterceptor(m));
    try {
      const url = m.apiUrl("/monitoring/v2/aps");
      const ok = await request(url, { dispatcher: agent });
      await ok.body.dump();
      await h.emu.admin.revoke("aruba-central");
      const err = await request(url, { dispatcher: agent }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ name: "HpauthError", code: "LOGIN_BUDGET_EXHAUSTED" });
      const c = await h.counters("aruba-central");
      expect(c.logins).toBe(1);
      expect(c.refusals.refresh_revoked).toBe(1);
    } finally {
      await agent.close();
    }
  });

  describe("against a plain API server", () => {
    const mgr = () => h.manager("greenlake", { apiBaseUrl: apiUrl });

    it("a string body is sent twice (one retry); a streamed body's 401 reaches the caller untouched", async () => {
      seen.length = 0;
      answer = () => ({ status: 401, body: '{"error":"invalid_token"}' });
      const m = mgr();
      const agent = new Agent().compose(authInterceptor(m));
      try {
        const r = await request(`${apiUrl}/things`, { method: "POST", body: '{"a":1}', dispatcher: agent });
        expect(r.statusCode).toBe(401);
        expect(await r.body.text()).toBe('{"error":"invalid_token"}');
        expect(seen.map((s) => s.body)).toEqual(['{"a":1}', '{"a":1}']);
        expect(seen[0]!.authorization).toMatch(/^Bearer /);
        expect(seen[1]!.authorization).toMatch(/^Bearer /);
        expect(seen[1]!.authorization).not.toBe(seen[0]!.authorization);
        expect((await h.counters("greenlake")).tokensIssued).toBe(2);

        seen.length = 0;
        const s = await request(`${apiUrl}/things`, {
          method: "POST",
          body: Readable.from([Buffer.from("stream")]),
          dispatcher: agent,
        });
        expect(s.statusCode).toBe(401);
        await s.body.dump();
        expect(seen).toHaveLength(1);
        expect(seen[0]!.body).toBe("stream");
      } finally {
        await agent.close();
      }
    });

    it("GreenLake's HPE_GL_ERROR 'expired' 403 counts as a refused token; other 403s are passed on after one try", async () => {
      seen.length = 0;
      answer = (_req, n) =>
        n === 1
          ? {
              status: 403,
              body: '{"httpStatusCode":403,"errorCode":"HPE_GL_ERROR_FORBIDDEN","message":"Jwt verification failed: signature has expired"}',
            }
          : { status: 200, body: '{"ok":true}' };
      const m = mgr();
      const agent = new Agent().compose(authInterceptor(m));
      try {
        const r = await request(`${apiUrl}/x`, { dispatcher: agent });
        expect(r.statusCode).toBe(200);
        expect(await r.body.json()).toEqual({ ok: true });
        expect(seen).toHaveLength(2);

        seen.length = 0;
        answer = () => ({ status: 403, body: '{"errorCode":"HPE_GL_ERROR_FORBIDDEN","message":"not your volume"}' });
        const f = await request(`${apiUrl}/x`, { dispatcher: agent });
        expect(f.statusCode).toBe(403);
        expect(await f.body.text()).toContain("not your volume");
        expect(seen).toHaveLength(1);
      } finally {
        await agent.close();
      }
    });

    it("never sends the token to another origin, and leaves a caller's own Authorization alone", async () => {
      seen.length = 0;
      otherSeen.length = 0;
      answer = () => ({ status: 200, body: "{}" });
      const m = mgr();
      const agent = new Agent().compose(authInterceptor(m));
      try {
        const o = await request(`${otherUrl}/leak?`, { dispatcher: agent });
        await o.body.dump();
        expect(otherSeen[0]!.authorization).toBeUndefined();
        const own = await request(`${apiUrl}/mine`, { headers: { Authorization: "Basic abc" }, dispatcher: agent });
        await own.body.dump();
        expect(seen[0]!.authorization).toBe("Basic abc");
        expect((await h.counters("greenlake")).tokensIssued).toBe(0);
      } finally {
        await agent.close();
      }
    });

    it("a token that cannot be had rejects the request with the engine's error", async () => {
      const m = h.manager("greenlake", { apiBaseUrl: apiUrl, clientSecret: "wrong" });
      const agent = new Agent().compose(authInterceptor(m));
      try {
        const err = await request(`${apiUrl}/x`, { dispatcher: agent }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toMatchObject({ code: "INVALID_CLIENT" });
        expect(String((err as Error).message)).not.toContain("wrong");
      } finally {
        await agent.close();
      }
    });
  });
});
