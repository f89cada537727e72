/** Transient failures are retried (bounded, backoff recorded), others are not; counted with the emulator's counters. */
import { describe, expect, it } from "vitest";
import { rfc3339 } from "../../src/engine/dates.js";
import { useHarness } from "./helpers.js";

const h = useHarness();

const FAST = { retry: { attempts: 3, timeoutMs: 400, baseDelayMs: 100 } };

describe("transient faults at the token endpoint", () => {
  it.each([
    ["500", { type: "status", status: 500 }],
    ["503", { type: "status", status: 503 }],
    ["429 + short Retry-After", { type: "status", status: 429, retryAfter: 2 }],
    ["503 + short Retry-After", { type: "status", status: 503, retryAfter: 2 }],
    ["503 HTML page + short Retry-After", { type: "html", status: 503, retryAfter: 3 }],
    ["malformed JSON", { type: "malformed" }],
    ["truncated JSON", { type: "truncated" }],
    ["HTML error page", { type: "html" }],
    ["dropped connection", { type: "drop" }],
    ["delay beyond the timeout", { type: "delay", delayMs: 1500 }],
  ] as const)("%s: retried, then succeeds", async (_name, fault) => {
    await h.emu.admin.fault({ provider: "greenlake", endpoint: "token", count: 2, ...fault });
    const m = h.manager("greenlake", {}, FAST);
    const t = await m.getToken();
    expect(t.source).toBe("login");
    const retries = m.events.filter((e) => e.type === "retry");
    expect(retries).toHaveLength(2);
    expect(h.sleeps).toHaveLength(2);
    if ("retryAfter" in fault) expect(h.sleeps).toEqual([fault.retryAfter * 1000, fault.retryAfter * 1000]);
    else {
      // Exponential with jitter: 50-100 ms, then 100-200 ms.
      expect(h.sleeps[0]).toBeGreaterThanOrEqual(50);
      expect(h.sleeps[0]).toBeLessThanOrEqual(100);
      expect(h.sleeps[1]).toBeGreaterThanOrEqual(100);
      expect(h.sleeps[1]).toBeLessThanOrEqual(200);
    }
    expect((await h.counters("greenlake")).tokensIssued).toBeGreaterThanOrEqual(1);
  });

  it("a delay inside the timeout is just slow, not a failure", async () => {
    await h.emu.admin.fault({ provider: "hpe-identity", endpoint: "token", type: "delay", delayMs: 100 });
    const m = h.manager("hpe-identity", {}, FAST);
    await m.getToken();
    expect(m.events.filter((e) => e.type === "retry")).toHaveLength(0);
    expect((await h.counters("hpe-identity")).tokenRequests).toBe(1);
  });

  it("bounded: three attempts, then SERVER_ERROR (exit category network), with counters to prove it", async () => {
    await h.emu.admin.fault({ provider: "wxp", endpoint: "token", type: "status", status: 503, count: 10 });
    const m = h.manager("wxp", {}, FAST);
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("SERVER_ERROR");
    expect(err.exitCode).toBe(5);
    expect((await h.counters("wxp")).tokenRequests).toBe(3);
    expect((await m.status()).lastError?.code).toBe("SERVER_ERROR");
  });

  it("a 429 whose Retry-After is beyond the budget: RATE_LIMITED with retryAt, no retry", async () => {
    await h.emu.admin.fault({
      provider: "hpe-identity",
      endpoint: "token",
      type: "status",
      status: 429,
      retryAfter: 600,
    });
    const m = h.manager("hpe-identity", {}, FAST);
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("RATE_LIMITED");
    expect(err.exitCode).toBe(4);
    expect(Math.abs(err.retryAt.getTime() - (h.now() + 600_000))).toBeLessThan(5000);
    expect((await h.counters("hpe-identity")).tokenRequests).toBe(1);
  });

  it("a 503 whose Retry-After is beyond the bound: SERVER_ERROR with retryAt at once, no retry (RFC 9110 §10.2.3)", async () => {
    await h.emu.admin.fault({ provider: "greenlake", endpoint: "token", type: "status", status: 503, retryAfter: 120 });
    const m = h.manager("greenlake", {}, FAST);
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("SERVER_ERROR");
    expect(err.exitCode).toBe(5);
    expect(err.status).toBe(503);
    expect(Math.abs(err.retryAt.getTime() - (h.now() + 120_000))).toBeLessThan(5000);
    expect(err.message).toMatch(
      /^GreenLake token request: service unavailable at http:\/\/127\.0\.0\.1:\d+ for 2m \(HTTP 503, Retry-After until \d{4}-\d\d-\d\dT/,
    );
    expect(err.toJSON().retry_at).toBe(rfc3339(err.retryAt, "up"));
    expect((await h.counters("greenlake")).tokenRequests).toBe(1);
    expect(h.sleeps).toEqual([]);
  });

  it("a 503 Retry-After as an HTTP-date is honoured like delta-seconds", async () => {
    // The emulator sends delta-seconds; a one-route server sends the date form (IMF-fixdate).
    const { createServer } = await import("node:http");
    let hits = 0;
    const srv = createServer((req, res) => {
      hits++;
      req.resume();
      if (hits === 1) {
        res.writeHead(503, { "retry-after": new Date(Date.now() + 3000).toUTCString(), "content-type": "text/plain" });
        res.end("maintenance");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ access_token: "tok-from-date-server", token_type: "Bearer", expires_in: 600 }));
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    try {
      const port = (srv.address() as { port: number }).port;
      const m = h.manager("greenlake", { baseUrl: `http://127.0.0.1:${port}` }, FAST);
      expect((await m.getToken()).accessToken).toBe("tok-from-date-server");
      expect(hits).toBe(2);
      expect(h.sleeps).toHaveLength(1);
      // HTTP-dates have a resolution of one second: 2-3 s.
      expect(h.sleeps[0]).toBeGreaterThanOrEqual(2000);
      expect(h.sleeps[0]).toBeLessThanOrEqual(3000);
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it("messages: an HTML page by its title, one prefix, one duration format", async () => {
    await h.emu.admin.fault({ provider: "greenlake", endpoint: "token", type: "html", count: 3 });
    const m = h.manager("greenlake", {}, FAST);
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("SERVER_ERROR");
    expect(err.message).toMatch(
      /^GreenLake token request: HTTP 502 from http:\/\/127\.0\.0\.1:\d+: an HTML page titled "502 Bad Gateway" \(gave up after 3 attempts\)$/,
    );
    const retries = m.events.filter((e) => e.type === "retry").map((e) => e.message);
    expect(retries).toHaveLength(2);
    for (const r of retries) {
      expect(r).not.toContain("<");
      expect(r.match(/GreenLake token request/g)).toHaveLength(1);
      expect(r).toMatch(/; retrying in \d+ms \(attempt [23] of 3\)$/);
    }
  });

  it("connection refused names the origin and the profile field instead of `fetch failed`", async () => {
    const { createServer } = await import("node:net");
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const m = h.manager("hpe-identity", { baseUrl: `http://127.0.0.1:${port}/apigwext` }, FAST);
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("NETWORK_ERROR");
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe(
      `HPE Identity token request: connection refused by http://127.0.0.1:${port} — check base_url (nothing listens there) (gave up after 3 attempts)`,
    );
    expect(err.message).not.toContain("fetch failed");
    expect(err.hint).toContain("base_url");
    // An oauth2 profile names its own field.
    const o = h.manager(
      "greenlake",
      {},
      {
        profile: {
          name: "o",
          provider: "oauth2",
          tokenUrl: `http://127.0.0.1:${port}/token`,
          clientId: "id",
          clientSecret: "secret",
        },
      },
    );
    const e2 = await o.getToken().catch((e) => e);
    expect(e2.message).toContain(`connection refused by http://127.0.0.1:${port} — check token_url`);
  });

  it("a port fetch blocks (the Fetch standard's list) is named, not retried as a lost connection", async () => {
    const m = h.manager("greenlake", { baseUrl: "http://127.0.0.1:6000" }, FAST);
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("NETWORK_ERROR");
    expect(err.message).toBe(
      "GreenLake token request: fetch refuses to connect to port 6000 of http://127.0.0.1:6000 (a port the Fetch standard blocks) — check base_url",
    );
    expect(h.sleeps).toEqual([]);
  });

  it("credential errors are never retried", async () => {
    const m = h.manager("greenlake", { clientSecret: "definitely-wrong" }, FAST);
    const err = await m.getToken().catch((e) => e);
    expect(err.category).toBe("auth");
    expect((await h.counters("greenlake")).tokenRequests).toBe(1);
  });

  it("a transient failure during a proactive refresh serves the still-valid token", async () => {
    const m = h.manager("techpulse", {}, FAST);
    const t1 = await m.getToken();
    await h.advance(1800 - 40); // inside the 60 s margin, 40 s left
    await h.emu.admin.fault({ provider: "techpulse", endpoint: "token", type: "status", status: 503, count: 3 });
    const t2 = await m.getToken();
    expect(t2.accessToken).toBe(t1.accessToken);
    expect(m.events.some((e) => e.type === "refresh_deferred")).toBe(true);
    const t3 = await m.getToken(); // fault spent: the refresh goes through now
    expect(t3.source).toBe("refresh");
  });

  it("aruba: faults in steps 1 and 2 are retried without spending a second login", async () => {
    await h.emu.admin.fault({ provider: "aruba-central", endpoint: "login", type: "status", status: 502 });
    await h.emu.admin.fault({ provider: "aruba-central", endpoint: "code", type: "html" });
    const m = h.manager("aruba-central", {}, FAST);
    const t = await m.getToken();
    expect(t.source).toBe("login");
    const c = await h.counters("aruba-central");
    expect(c.logins).toBe(1);
    expect(c.tokensIssued).toBe(1);
  });

  it("error messages and events carry no secret even when the server echoes the token", async () => {
    const m = h.manager("hpe-identity", {}, FAST);
    const t = await m.getToken();
    await h.emu.admin.revoke("hpe-identity", t.accessToken);
    const res = await m.fetch("/support/entitlement/v1/warrantyCheck/SGH123/P123?cc=US&hsl=true");
    // Identity has no refresh: the 401 led to a new client-credentials grant and a successful retry.
    expect(res.status).toBe(200);
    const dump = JSON.stringify(m.events);
    expect(dump).not.toContain(t.accessToken);
    expect(dump).not.toContain(h.emu.providers["hpe-identity"].clientSecret);
  });
});
