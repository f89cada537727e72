/**
 * `send()` (src/engine/http.ts) against a scripted server on loopback, over real sockets: what is retried and how
 * (the backoff's equal jitter with the randomness fixed, Retry-After waited out up to the policy's limit and
 * refused past it, either form), what the final error says (attempts, the last status, retryAt, the hint), what a
 * server body becomes in a message (a redacted excerpt of bounded length, an HTML page by its title), what a
 * request that must not be sent twice does when its outcome is unknown (ANSWER_LOST, never a resend) and when it
 * is known (an error status: retried), timeouts, and cancellation (before, while waiting, while reading the body,
 * during a backoff; a request sent once is still waited for). No assertion depends on the machine's speed: a
 * server that must time out never answers at all.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type SendOptions, send } from "../../src/engine/http.js";
import { rejection, testContext } from "./http-context.js";

const TOKEN: SendOptions = { what: "GreenLake token request", expectJson: true };
const REFRESH: SendOptions = { what: "Aruba token refresh", expectJson: true, once: "refresh" };
const CODE: SendOptions = { what: "TechPulse code exchange", expectJson: true, once: "code" };
const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
const GOOD = JSON.stringify({ access_token: "at-value", token_type: "Bearer", expires_in: 3600 });
const SECRET = "client-s3cret-value";

interface Scripted {
  url: URL;
  /** Requests received so far. */
  requests(): number;
  close(): Promise<void>;
}

const servers: Scripted[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A server on loopback answering request number n (from 1) with `handler(n, req, res)`. */
async function serve(handler: (n: number, req: IncomingMessage, res: ServerResponse) => void): Promise<Scripted> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    // The request body is read first, as a real server does.
    req.resume();
    req.on("end", () => handler(++n, req, res));
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const s: Scripted = {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/as/token.oauth2`),
    requests: () => n,
    close: () =>
      new Promise<void>((r) => {
        for (const x of sockets) x.destroy();
        server.close(() => r());
      }),
  };
  servers.push(s);
  return s;
}

const json = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) =>
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(body);
const post = { method: "POST", body: "grant_type=client_credentials" };

describe("retries and the backoff", () => {
  it("equal jitter: from half the cap (no randomness) to the cap (all of it); the cap doubles up to maxDelayMs", async () => {
    for (const [bytes, expected] of [
      [
        [0, 0],
        [500, 750, 750],
      ],
      [
        [255, 255],
        [1000, 1500, 1500],
      ],
    ] as const) {
      const srv = await serve((_n, _q, res) => json(res, 500, '{"error":"server_error"}'));
      const t = testContext({
        retry: { attempts: 4, baseDelayMs: 1000, maxDelayMs: 1500 },
        runtime: { randomBytes: (size) => new Uint8Array(size).fill(bytes[0]).map((_, i) => bytes[i] ?? 0) },
      });
      const err = await rejection(send(t.ctx, srv.url, post, TOKEN));
      expect(t.sleeps).toEqual(expected);
      expect(srv.requests()).toBe(4);
      const said = `GreenLake token request: HTTP 500 from ${srv.url.origin}: {"error":"server_error"}`;
      expect(t.events).toEqual(
        expected.map((delayMs, i) => ({
          type: "retry",
          message: `${said}; retrying in ${delayMs < 1000 ? `${delayMs}ms` : `${delayMs / 1000}s`} (attempt ${i + 2} of 4)`,
          attempt: i + 2,
          delayMs,
          status: 500,
          code: "SERVER_ERROR",
        })),
      );
      expect(err.code).toBe("SERVER_ERROR");
      expect(err.exitCode).toBe(5);
      expect(err.message).toBe(`${said} (gave up after 4 attempts)`);
      expect(err.hint).toBe("The service is failing or unreachable; try again later.");
      expect(err.status).toBe(500);
      expect(err.retryAt).toBeUndefined();
      expect(err.provider).toBe("greenlake");
      expect(err.profile).toBe("http-test");
      expect((err.cause as { code?: string }).code).toBe("SERVER_ERROR");
    }
  });

  it("a failure without a status (a dropped connection): the retry event and the error carry none", async () => {
    const srv = await serve((_n, req) => req.socket.destroy());
    const t = testContext({ retry: { attempts: 2 } });
    const err = await rejection(send(t.ctx, srv.url, post, TOKEN));
    expect(t.events).toHaveLength(1);
    expect(t.events[0]).not.toHaveProperty("status");
    expect(t.events[0]?.code).toBe("NETWORK_ERROR");
    expect(err.status).toBeUndefined();
    expect(err.message).toBe(
      `GreenLake token request to ${srv.url.origin} failed: the connection was lost (UND_ERR_SOCKET) (gave up after 2 attempts)`,
    );
  });

  it("a policy of no attempts sends nothing and says so", async () => {
    const srv = await serve((_n, _q, res) => json(res, 200, GOOD));
    const t = testContext({ retry: { attempts: 0 } });
    const err = await rejection(send(t.ctx, srv.url, post, TOKEN));
    expect(err.code).toBe("INTERNAL");
    expect(err.message).toBe("GreenLake token request: no attempt made (gave up after 0 attempts)");
    expect(srv.requests()).toBe(0);
  });

  it("a transient failure, then success: the answer, after one wait", async () => {
    const srv = await serve((n, _q, res) => (n === 1 ? json(res, 502, "{}") : json(res, 200, GOOD)));
    const t = testContext();
    const res = await send(t.ctx, srv.url, post, TOKEN);
    expect(res.status).toBe(200);
    expect(res.json).toEqual(JSON.parse(GOOD));
    expect(srv.requests()).toBe(2);
    expect(t.sleeps).toHaveLength(1);
  });
});

describe("Retry-After", () => {
  const at = (s: number) => new Date(NOW + s * 1000).toISOString();

  it("up to maxRetryAfterSeconds it is waited out exactly, then the request is sent again", async () => {
    const srv = await serve((n, _q, res) =>
      n === 1 ? json(res, 429, '{"error":"slow_down"}', { "retry-after": "10" }) : json(res, 200, GOOD),
    );
    const t = testContext({ retry: { maxRetryAfterSeconds: 10 }, runtime: { now: () => NOW } });
    const res = await send(t.ctx, srv.url, post, TOKEN);
    expect(res.status).toBe(200);
    expect(t.sleeps).toEqual([10_000]);
    // A 429's body is not echoed (it says nothing a rate limit does not).
    expect(t.events[0]?.message).toBe(
      `GreenLake token request: HTTP 429 from ${srv.url.origin} (Retry-After 10s); retrying in 10s (attempt 2 of 3)`,
    );
    expect(t.events[0]?.status).toBe(429);
    expect(t.events[0]?.code).toBe("RATE_LIMITED");
  });

  it("past it: RATE_LIMITED (429) at once, with retryAt and the time in the message and the hint", async () => {
    const srv = await serve((_n, _q, res) => json(res, 429, "{}", { "retry-after": "11" }));
    const t = testContext({ retry: { maxRetryAfterSeconds: 10 }, runtime: { now: () => NOW } });
    const err = await rejection(send(t.ctx, srv.url, post, TOKEN));
    expect(err.code).toBe("RATE_LIMITED");
    expect(err.exitCode).toBe(4);
    expect(err.status).toBe(429);
    expect(err.retryAt?.toISOString()).toBe(at(11));
    expect(err.message).toBe(
      `GreenLake token request: rate limited by ${srv.url.origin} for 11s (HTTP 429, Retry-After until ${at(11)})`,
    );
    expect(err.hint).toBe(`Wait until ${at(11)}, then try again.`);
    expect(srv.requests()).toBe(1);
    expect(t.sleeps).toEqual([]);
  });

  it("a 503 with an HTTP date past it: SERVER_ERROR at once, 'service unavailable'", async () => {
    const srv = await serve((_n, _q, res) =>
      json(res, 503, "{}", { "retry-after": new Date(NOW + 90_000).toUTCString() }),
    );
    const t = testContext({ retry: { maxRetryAfterSeconds: 10 }, runtime: { now: () => NOW } });
    const err = await rejection(send(t.ctx, srv.url, post, TOKEN));
    expect(err.code).toBe("SERVER_ERROR");
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe(
      `GreenLake token request: service unavailable at ${srv.url.origin} for 1m 30s (HTTP 503, Retry-After until ${at(90)})`,
    );
    expect(err.retryAt?.toISOString()).toBe(at(90));
    expect(srv.requests()).toBe(1);
  });

  it("a short one on a 503: waited (a fraction rounded up to the ms), the body and the wait in the message, retryAt kept", async () => {
    const srv = await serve((_n, _q, res) => json(res, 503, '{"error":"busy"}', { "retry-after": "0.25" }));
    const t = testContext({ retry: { attempts: 2 }, runtime: { now: () => NOW } });
    const err = await rejection(send(t.ctx, srv.url, post, TOKEN));
    expect(t.sleeps).toEqual([250]);
    expect(err.code).toBe("SERVER_ERROR");
    expect(err.message).toBe(
      `GreenLake token request: HTTP 503 from ${srv.url.origin}: {"error":"busy"} (Retry-After 250ms) (gave up after 2 attempts)`,
    );
    expect(err.status).toBe(503);
    expect(err.retryAt?.toISOString()).toBe(new Date(NOW + 250).toISOString());
  });

  it("none: the backoff's wait, no retryAt", async () => {
    const srv = await serve((_n, _q, res) => json(res, 429, "{}"));
    const t = testContext({ retry: { attempts: 2, baseDelayMs: 100, maxDelayMs: 100 }, runtime: { now: () => NOW } });
    const err = await rejection(send(t.ctx, srv.url, post, TOKEN));
    expect(err.message).toBe(`GreenLake token request: HTTP 429 from ${srv.url.origin} (gave up after 2 attempts)`);
    expect(err.retryAt).toBeUndefined();
    expect(t.sleeps[0]).toBeGreaterThanOrEqual(50);
    expect(t.sleeps[0]).toBeLessThanOrEqual(100);
  });

  it("a status answered at once (noRetryStatuses): returned as it came, its JSON parsed, readable again", async () => {
    const srv = await serve((_n, _q, res) =>
      json(res, 429, '{"error":"budget"}', { "retry-after": "1800", "x-extra": "kept" }),
    );
    const t = testContext();
    const res = await send(t.ctx, srv.url, post, { ...TOKEN, noRetryStatuses: [429] });
    expect(srv.requests()).toBe(1);
    expect(res.status).toBe(429);
    expect(res.json).toEqual({ error: "budget" });
    const again = res.toResponse();
    expect(again.status).toBe(429);
    expect(again.headers.get("x-extra")).toBe("kept");
    expect(await again.json()).toEqual({ error: "budget" });
    const text = await serve((_n, _q, r) => r.writeHead(429).end("slow down"));
    const plain = await send(t.ctx, text.url, post, { ...TOKEN, noRetryStatuses: [429] });
    expect(plain.text).toBe("slow down");
    expect(plain.json).toBeUndefined();
  });
});

describe("what a server's body becomes", () => {
  it("a 5xx body: one line, at most 200 characters, known secrets masked", async () => {
    const long = `{"error":"server_error","detail":"${SECRET} ${"x".repeat(400)}"}`;
    const srv = await serve((_n, _q, res) => json(res, 500, long));
    const t = testContext({ retry: { attempts: 1 }, secrets: [SECRET] });
    const err = await rejection(send(t.ctx, srv.url, post, TOKEN));
    const excerpt = err.message
      .replace(/^.*?: HTTP 500 from http:\/\/127\.0\.0\.1:\d+: /, "")
      .replace(/ \(gave up.*$/, "");
    expect(excerpt).toMatch(/^\{"error":"server_error","detail":"\[redacted\] x+…$/);
    expect(excerpt.length).toBe(201);
    expect(err.message).not.toContain(SECRET);
  });

  it("an HTML error page of a gateway: by its title, never inlined", async () => {
    const srv = await serve((_n, _q, res) =>
      res
        .writeHead(502, { "content-type": "text/html" })
        .end("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"),
    );
    const t = testContext({ retry: { attempts: 1 } });
    const err = await rejection(send(t.ctx, srv.url, post, TOKEN));
    expect(err.message).toBe(
      `GreenLake token request: HTTP 502 from ${srv.url.origin}: an HTML page titled "502 Bad Gateway" (gave up after 1 attempts)`,
    );
  });

  it.each([
    ["", "an empty body"],
    [" \n\t ", "an empty body"],
    ["{access_token: x", "a malformed body"],
    ["<html><head><title>Sign in</title></head></html>", 'an HTML page titled "Sign in"'],
  ])("JSON due on a 2xx, got %j: INVALID_RESPONSE naming what came, retried; its status kept", async (body, what) => {
    const srv = await serve((_n, _q, res) => res.writeHead(200).end(body));
    const t = testContext({ retry: { attempts: 2 } });
    const err = await rejection(send(t.ctx, srv.url, post, TOKEN));
    expect(err.code).toBe("INVALID_RESPONSE");
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe(
      `GreenLake token request: ${srv.url.origin} answered HTTP 200 with ${what} instead of JSON (gave up after 2 attempts)`,
    );
    expect(err.status).toBe(200);
    expect(srv.requests()).toBe(2);
  });

  it("the same on a request sent once: ANSWER_LOST, not sent again (the server did act on a 2xx)", async () => {
    const srv = await serve((_n, _q, res) => res.writeHead(200).end(""));
    const t = testContext();
    const err = await rejection(send(t.ctx, srv.url, post, REFRESH));
    expect(err.code).toBe("ANSWER_LOST");
    expect(err.message).toBe(
      `Aruba token refresh: ${srv.url.origin} answered HTTP 200 with an empty body instead of JSON; the server may have rotated the refresh token, so it was not sent again`,
    );
    // Nothing failed below HTTP: there is no underlying error to hang off it.
    expect(err.cause).toBeUndefined();
    expect(srv.requests()).toBe(1);
  });

  it("no JSON needed, or not a 2xx: the answer is the caller's, as it came", async () => {
    const t = testContext();
    const text = await serve((_n, _q, res) => res.writeHead(200).end("plain text"));
    const a = await send(t.ctx, text.url, post, { ...TOKEN, expectJson: false });
    expect(a.text).toBe("plain text");
    expect(a.json).toBeUndefined();
    // A redirect (not followed) and a 4xx HTML page where JSON was due: the caller decides what they mean.
    const redirect = await serve((_n, _q, res) => res.writeHead(302, { location: "https://elsewhere.test/" }).end());
    const r = await send(t.ctx, redirect.url, post, TOKEN);
    expect(r.status).toBe(302);
    expect(r.headers.get("location")).toBe("https://elsewhere.test/");
    const bad = await serve((_n, _q, res) =>
      res.writeHead(400, { "content-type": "text/html" }).end("<html>no</html>"),
    );
    const b = await send(t.ctx, bad.url, post, TOKEN);
    expect(b.status).toBe(400);
    expect(b.text).toBe("<html>no</html>");
    expect(redirect.requests() + bad.requests()).toBe(2);
  });

  it("a null-body status (204, 304) can be read again as a Response", async () => {
    for (const status of [204, 304]) {
      const srv = await serve((_n, _q, res) => res.writeHead(status).end());
      const res = await send(testContext().ctx, srv.url, post, { ...TOKEN, expectJson: false });
      expect(res.status).toBe(status);
      const again = res.toResponse();
      expect(again.status).toBe(status);
      expect(await again.text()).toBe("");
    }
  });
});

describe("a request sent once (a refresh token that may rotate, a code exchange)", () => {
  it("a connection lost after sending: ANSWER_LOST after one request, with the hint for a refresh", async () => {
    const srv = await serve((_n, req) => req.socket.destroy());
    const t = testContext();
    const err = await rejection(send(t.ctx, srv.url, post, REFRESH));
    expect(err.code).toBe("ANSWER_LOST");
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe(
      `Aruba token refresh: the connection to ${srv.url.origin} was lost after the request was sent (UND_ERR_SOCKET); the server may have rotated the refresh token, so it was not sent again`,
    );
    expect(err.hint).toBe(
      "Run the command again: the stored refresh token is tried once more, and if the server had rotated it the error says so for certain and a new login is needed.",
    );
    expect(err.provider).toBe("greenlake");
    expect(err.cause).toBeInstanceOf(Error);
    expect(srv.requests()).toBe(1);
    expect(t.events).toEqual([]);
  });

  it("a code exchange: the code may have been used; the hint is a new login, or the caller's own", async () => {
    const srv = await serve((_n, req) => req.socket.destroy());
    const err = await rejection(send(testContext().ctx, srv.url, post, CODE));
    expect(err.code).toBe("ANSWER_LOST");
    expect(err.message).toMatch(
      /was lost after the request was sent \(UND_ERR_SOCKET\); the server may have used the authorization code and created a token, so it was not sent again$/,
    );
    expect(err.hint).toBe("Log in again; the code cannot be used twice.");
    const own = await rejection(
      send(testContext().ctx, srv.url, post, { ...CODE, lostHint: "Wait 30 minutes, then log in." }),
    );
    expect(own.hint).toBe("Wait 30 minutes, then log in.");
    expect(srv.requests()).toBe(2);
  });

  it("a 2xx whose body is cut: ANSWER_LOST; an error status whose body is cut: the server did not act, retried", async () => {
    const cut = (status: number) => (_n: number, _q: IncomingMessage, res: ServerResponse) => {
      res.writeHead(status, { "content-type": "application/json", "content-length": "400" });
      res.write('{"access_token":"eyJ', () => res.socket?.destroy());
    };
    const ok = await serve(cut(200));
    const lost = await rejection(send(testContext().ctx, ok.url, post, REFRESH));
    expect(lost.code).toBe("ANSWER_LOST");
    expect(lost.message).toMatch(
      /^Aruba token refresh: http:\/\/127\.0\.0\.1:\d+ answered HTTP 200 but the connection was cut inside the body \(UND_ERR_SOCKET\); the server may have rotated/,
    );
    expect(ok.requests()).toBe(1);
    for (const status of [400, 500]) {
      const refused = await serve(cut(status));
      const t = testContext({ retry: { attempts: 2 } });
      const err = await rejection(send(t.ctx, refused.url, post, REFRESH));
      expect(err.code, String(status)).toBe("NETWORK_ERROR");
      expect(err.message).toBe(
        `Aruba token refresh: ${refused.url.origin} answered HTTP ${status} but the connection was cut inside the body (UND_ERR_SOCKET) (gave up after 2 attempts)`,
      );
      expect(err.status).toBe(status);
      expect(refused.requests()).toBe(2);
    }
  });

  it("an idempotent request whose 2xx body is cut: retried (NETWORK_ERROR), never ANSWER_LOST", async () => {
    const srv = await serve((_n, _q, res) => {
      res.writeHead(200, { "content-length": "400" });
      res.write("{", () => res.socket?.destroy());
    });
    const err = await rejection(send(testContext({ retry: { attempts: 2 } }).ctx, srv.url, post, TOKEN));
    expect(err.code).toBe("NETWORK_ERROR");
    expect(srv.requests()).toBe(2);
  });
});

describe("timeouts (a server that never answers: no assertion on speed)", () => {
  const never = () => serve(() => undefined);
  const headersOnly = () =>
    serve((_n, _q, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.write("{");
    });

  it("no answer: TIMEOUT, retried; sent once: ANSWER_LOST after one request", async () => {
    const srv = await never();
    const t = testContext({ retry: { attempts: 2, timeoutMs: 300 } });
    const err = await rejection(send(t.ctx, srv.url, post, TOKEN));
    expect(err.code).toBe("TIMEOUT");
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe(
      `GreenLake token request to ${srv.url.origin} timed out after 300ms (gave up after 2 attempts)`,
    );
    expect(srv.requests()).toBe(2);
    const once = await never();
    const lost = await rejection(
      send(testContext({ retry: { nonIdempotentTimeoutMs: 300 } }).ctx, once.url, post, REFRESH),
    );
    expect(lost.code).toBe("ANSWER_LOST");
    expect(lost.message).toBe(
      `Aruba token refresh: no answer from ${once.url.origin} within 300ms; the server may have rotated the refresh token, so it was not sent again`,
    );
    expect(once.requests()).toBe(1);
  });

  it("headers, then a body that never ends: TIMEOUT saying so, its status kept; sent once: ANSWER_LOST", async () => {
    const srv = await headersOnly();
    const t = testContext({ retry: { attempts: 2, timeoutMs: 300 } });
    const err = await rejection(send(t.ctx, srv.url, post, TOKEN));
    expect(err.code).toBe("TIMEOUT");
    expect(err.message).toBe(
      `GreenLake token request: ${srv.url.origin} answered HTTP 200 but its body did not arrive within 300ms (gave up after 2 attempts)`,
    );
    expect(err.status).toBe(200);
    expect(srv.requests()).toBe(2);
    const once = await headersOnly();
    const lost = await rejection(
      send(testContext({ retry: { nonIdempotentTimeoutMs: 300 } }).ctx, once.url, post, REFRESH),
    );
    expect(lost.code).toBe("ANSWER_LOST");
    expect(lost.message).toMatch(
      /answered HTTP 200 but its body did not arrive within 300ms; the server may have rotated/,
    );
  });
});

describe("cancellation", () => {
  const cancelled = (err: { code: string; message: string; exitCode: number; provider?: string }) => {
    expect(err.code).toBe("CANCELLED");
    expect(err.message).toBe("Cancelled.");
    expect(err.exitCode).toBe(130);
    expect(err.provider).toBe("greenlake");
  };

  it("already cancelled: nothing is sent", async () => {
    const srv = await serve((_n, _q, res) => json(res, 200, GOOD));
    const ac = new AbortController();
    ac.abort();
    const t = testContext({ signal: ac.signal });
    cancelled(await rejection(send(t.ctx, srv.url, post, TOKEN)));
    expect(t.calls()).toBe(0);
    expect(srv.requests()).toBe(0);
  });

  it("while waiting for the answer: CANCELLED at once, no retry", async () => {
    const ac = new AbortController();
    // The server holds the answer; the caller gives up once the request has arrived.
    const srv = await serve(() => ac.abort());
    // (A code that missed the cancellation would wait for this timeout, then retry: seen below as an event.)
    const t = testContext({ signal: ac.signal, retry: { timeoutMs: 10_000 } });
    cancelled(await rejection(send(t.ctx, srv.url, post, TOKEN)));
    expect(t.events).toEqual([]);
    expect(t.sleeps).toEqual([]);
    expect(srv.requests()).toBe(1);
  });

  it("while the body is read: CANCELLED, no retry", async () => {
    const ac = new AbortController();
    const srv = await serve((_n, _q, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("{");
    });
    const t = testContext({
      signal: ac.signal,
      retry: { timeoutMs: 10_000 },
      // The headers are in: the caller cancels before the body is read.
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        ac.abort();
        return res;
      },
    });
    cancelled(await rejection(send(t.ctx, srv.url, post, TOKEN)));
    expect(t.events).toEqual([]);
    expect(srv.requests()).toBe(1);
  });

  it("during the wait before a retry: CANCELLED, nothing more sent", async () => {
    const ac = new AbortController();
    const srv = await serve((_n, _q, res) => json(res, 500, "{}"));
    const t = testContext({ signal: ac.signal });
    t.ctx.emit = (e) => {
      t.events.push(e);
      if (e.type === "retry") ac.abort();
    };
    cancelled(await rejection(send(t.ctx, srv.url, post, TOKEN)));
    expect(srv.requests()).toBe(1);
    expect(t.sleeps).toHaveLength(1);
  });

  it("a request sent once is waited for even when cancelled meanwhile (its answer may be the only copy); the next is not sent", async () => {
    for (const [options, finishSentRequests] of [
      [REFRESH, undefined],
      [CODE, false],
      [TOKEN, true],
    ] as const) {
      const ac = new AbortController();
      // The caller cancels as the request arrives; the answer follows a moment later.
      const srv = await serve((_n, _q, res) => {
        ac.abort();
        setTimeout(() => json(res, 200, GOOD), 50);
      });
      const t = testContext({
        signal: ac.signal,
        ...(finishSentRequests !== undefined ? { finishSentRequests } : {}),
      });
      const res = await send(t.ctx, srv.url, post, options);
      expect(res.status, options.what).toBe(200);
      expect(res.json).toEqual(JSON.parse(GOOD));
      cancelled(await rejection(send(t.ctx, srv.url, post, options)));
      expect(srv.requests()).toBe(1);
    }
  });
});
