/** startProxy over real sockets against the emulator: forwarding, security checks, self-healing, own endpoints. */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseAllowRule } from "../../src/proxy/index.js";
import { EMU_OPTIONS, type Harness, type ProxyRun, proxyFor, raw, startHarness } from "./helpers.js";

let h: Harness;
const running: ProxyRun[] = [];
beforeAll(async () => {
  h = await startHarness(EMU_OPTIONS);
});
afterAll(() => h.close());
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.proxy.close()));
  await h.reset();
});

async function start(provider: "greenlake" | "aruba-central", extra: Parameters<typeof proxyFor>[1] = {}) {
  const manager = h.manager(provider);
  const run = await proxyFor([{ name: provider, manager }], extra);
  running.push(run);
  return { ...run, manager, base: run.url() };
}

describe("forwarding", () => {
  it("GreenLake: method, path, query and body go upstream with the proxy's token; the caller's credentials do not", async () => {
    const { base } = await start("greenlake");
    const res = await raw(`${base}/api/v1/echo?x=1&y=%20two`, {
      method: "POST",
      headers: {
        authorization: "Bearer caller-own-token-000",
        cookie: "session=caller-cookie",
        "proxy-authorization": "Basic abc",
        connection: "x-hop-secret",
        "x-hop-secret": "should-not-pass",
        "keep-alive": "timeout=5",
        te: "trailers",
        "x-end-to-end": "kept",
        "content-type": "text/plain",
      },
      body: "hello proxy",
    });
    expect(res.status).toBe(200);
    const e = res.json();
    expect(e.method).toBe("POST");
    expect(e.query).toBe("?x=1&y=%20two");
    expect(e.headers.authorization).toEqual(["Bearer (valid)"]);
    for (const gone of ["cookie", "proxy-authorization", "x-hop-secret", "keep-alive", "te"])
      expect(e.headers[gone], gone).toBeUndefined();
    expect(e.headers["x-end-to-end"]).toEqual(["kept"]);
    expect(e.headers.via).toEqual(["1.1 hpauth"]);
    expect(e.body).toEqual({ bytes: 11, sha256: createHash("sha256").update("hello proxy").digest("hex") });
  });

  it("Aruba: a real API call through the proxy", async () => {
    const { base } = await start("aruba-central");
    const res = await raw(`${base}/monitoring/v2/aps?limit=2`);
    expect(res.status).toBe(200);
    expect(res.json().aps).toHaveLength(2);
    expect(res.headers["x-ratelimit-limit-day"]).toBeDefined();
  });

  it("streams large bodies both ways (declared length, chunked, and a large response)", async () => {
    const { base } = await start("greenlake");
    const chunk = Buffer.alloc(64 * 1024, 3);
    const n = 64; // 4 MiB, streamed (past the 64 KiB replay buffer)
    const hash = createHash("sha256");
    for (let i = 0; i < n; i++) hash.update(chunk);
    const up = await raw(`${base}/api/v1/echo`, {
      method: "PUT",
      headers: { "content-length": String(n * chunk.length) },
      body: Readable.from(
        (function* () {
          for (let i = 0; i < n; i++) yield chunk;
        })(),
      ),
    });
    expect(up.status).toBe(200);
    expect(up.json().body).toEqual({ bytes: n * chunk.length, sha256: hash.digest("hex") });
    const chunked = await raw(`${base}/api/v1/echo`, {
      method: "POST",
      body: Readable.from(
        (function* () {
          for (let i = 0; i < 4; i++) yield chunk;
        })(),
      ),
    });
    expect(chunked.json().body.bytes).toBe(4 * chunk.length);
    const down = await raw(`${base}/api/v1/echo?respond_bytes=3000000`);
    expect(down.status).toBe(200);
    expect(down.text.length).toBe(3_000_000);
  });
});

describe("security", () => {
  it("403 for a Host that is not the listener (DNS rebinding), loopback names accepted", async () => {
    const { base, proxy } = await start("greenlake");
    const port = new URL(base).port;
    for (const host of ["evil.example", `evil.example:${port}`, "127.0.0.1:1", `127.0.0.2:${port}`, ""]) {
      const res = await raw(`${base}/api/v1/storage-systems`, { headers: { host } });
      expect(res.status, host).toBe(403);
      expect(res.json().error).toBe("forbidden_host");
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      expect((await raw(`${base}/api/v1/storage-systems`, { headers: { host } })).status, host).toBe(200);
    }
    expect(await proxy.metrics.text()).toMatch(
      /hpauth_proxy_rejected_total\{profile="greenlake",reason="forbidden_host"\} 5/,
    );
    expect((await h.counters("greenlake")).apiCalls).toBe(4);
  });

  it("403 for a cross-origin browser request (a web page POSTing to 127.0.0.1)", async () => {
    const { base } = await start("greenlake");
    const a = await raw(`${base}/api/v1/echo`, {
      method: "POST",
      headers: { origin: "https://evil.example" },
      body: "x",
    });
    expect(a.status).toBe(403);
    const b = await raw(`${base}/api/v1/echo`, { headers: { "sec-fetch-site": "cross-site" } });
    expect(b.status).toBe(403);
    expect((await raw(`${base}/api/v1/echo`, { headers: { origin: base } })).status).toBe(200);
    expect((await h.counters("greenlake")).apiCalls).toBe(1);
  });

  it("refuses a non-loopback bind without allowRemote", async () => {
    await expect(start("greenlake", { host: "0.0.0.0" })).rejects.toMatchObject({ code: "USAGE" });
  });

  it("allow-list: 403 outside the rules; dot segments never reach it", async () => {
    const { base } = await start("greenlake", {
      allow: [parseAllowRule("GET,HEAD /api/v1/storage-*"), parseAllowRule("greenlake: POST /api/v1/echo")],
    });
    expect((await raw(`${base}/api/v1/storage-systems`)).status).toBe(200);
    expect((await raw(`${base}/api/v1/echo`, { method: "POST", body: "x" })).status).toBe(200);
    const put = await raw(`${base}/api/v1/echo`, { method: "PUT", body: "x" });
    expect(put.status).toBe(403);
    expect(put.json().error).toBe("not_allowed");
    for (const path of ["/api/v1/storage-systems/../echo", "/api/v1/storage-systems/%2e%2e/echo", "/api/v1/x%2fy"])
      expect((await raw(base, { path })).status, path).toBe(400);
    expect((await raw(base, { path: "http://example.com/api/v1/storage-systems" })).status).toBe(400);
    expect((await h.counters("greenlake")).apiCalls).toBe(2);
    expect(() => parseAllowRule("GET api")).toThrow(/path starting with/);
    expect(() => parseAllowRule("G3T /x")).toThrow(/not an HTTP method/);
  });
});

describe("self-healing", () => {
  it("Aruba: 200 concurrent requests across an expiry → exactly one refresh, no request sees a 401", async () => {
    const { base, proxy } = await start("aruba-central");
    expect((await raw(`${base}/monitoring/v2/aps`)).status).toBe(200);
    await h.advance(7200 + 5);
    await h.emu.admin.resetCounters();
    const results = await Promise.all(
      Array.from({ length: 200 }, () => raw(`${base}/monitoring/v2/aps?limit=1`).then((r) => r.status)),
    );
    expect(results.filter((s) => s !== 200)).toEqual([]);
    const c = await h.counters("aruba-central");
    expect(c.refreshes).toBe(1);
    expect(c.logins).toBe(0);
    expect(c.refusals).toEqual({});
    expect(c.apiCalls).toBe(200);
    expect(await proxy.metrics.text()).toMatch(
      /hpauth_proxy_token_renewals_total\{profile="aruba-central",source="refresh"\} 1\b/,
    );
  });

  it("GreenLake (no refresh token): 200 concurrent requests across an expiry → one new grant, no 401", async () => {
    const { base } = await start("greenlake");
    expect((await raw(`${base}/api/v1/storage-systems`)).status).toBe(200);
    await h.advance(7200 + 5);
    await h.emu.admin.resetCounters();
    const results = await Promise.all(
      Array.from({ length: 200 }, () => raw(`${base}/api/v1/storage-systems?limit=1`).then((r) => r.status)),
    );
    expect(results.filter((s) => s !== 200)).toEqual([]);
    const c = await h.counters("greenlake");
    expect(c.tokensIssued).toBe(1);
    expect(c.refusals).toEqual({});
  });

  it("Aruba: after an admin revoke, concurrent requests self-heal with one new grant, each refused request retried once", async () => {
    const { base, proxy } = await start("aruba-central");
    expect((await raw(`${base}/monitoring/v2/aps`)).status).toBe(200);
    await h.advance(31 * 60); // past the one-login-per-30-minutes budget; the token still has 1 h 29 min
    await h.emu.admin.revoke("aruba-central");
    await h.emu.admin.resetCounters();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => raw(`${base}/monitoring/v2/aps?limit=1`).then((r) => r.status)),
    );
    expect(results.filter((s) => s !== 200)).toEqual([]);
    const c = await h.counters("aruba-central");
    expect(c.logins).toBe(1); // the revoked refresh token is refused once, then one new grant
    expect(c.tokensIssued).toBe(1);
    const m = await proxy.metrics.text();
    // Requests that were sent with the revoked token were retried; those that came after the renewal were not.
    const retries = Number(/hpauth_proxy_retries_total\{profile="aruba-central"\} (\d+)/.exec(m)?.[1]);
    expect(retries).toBeGreaterThanOrEqual(1);
    expect(retries).toBeLessThanOrEqual(50);
    expect(c.refusals.revoked_token).toBe(retries);
    // The first login (before the revoke) and the one that healed it.
    expect(m).toMatch(/hpauth_proxy_token_renewals_total\{profile="aruba-central",source="login"\} 2\b/);
  });

  it("GreenLake: after a revoke a small body is replayed; a streamed one's 401 goes back as is, and the next request heals", async () => {
    const { base } = await start("greenlake");
    expect((await raw(`${base}/api/v1/storage-systems`)).status).toBe(200);
    await h.emu.admin.revoke("greenlake");
    const small = await raw(`${base}/api/v1/echo`, { method: "POST", body: "small body" });
    expect(small.status).toBe(200);
    expect(small.json().body.bytes).toBe(10);
    await h.emu.admin.revoke("greenlake");
    const big = Buffer.alloc(200 * 1024, 1);
    const streamed = await raw(`${base}/api/v1/echo`, {
      method: "PUT",
      headers: { "content-length": String(big.length) },
      body: Readable.from([big]),
    });
    expect(streamed.status).toBe(401);
    expect(streamed.json().errorCode).toBe("HPE_GL_ERROR_UNAUTHORIZED");
    expect((await raw(`${base}/api/v1/storage-systems`)).status).toBe(200);
    expect((await h.counters("greenlake")).tokensIssued).toBe(3);
  });

  it("IdP down: 502 with the engine's reason, never an expired token upstream, the proxy stays up and recovers", async () => {
    const { base } = await start("greenlake");
    expect((await raw(`${base}/api/v1/storage-systems`)).status).toBe(200);
    await h.advance(7200 + 5);
    await h.emu.admin.fault({ provider: "greenlake", endpoint: "token", type: "status", status: 503, count: 1000 });
    await h.emu.admin.resetCounters();
    for (let i = 0; i < 3; i++) {
      const res = await raw(`${base}/api/v1/storage-systems`);
      expect(res.status).toBe(502);
      const e = res.json();
      expect(e.error).toBe("token_unavailable");
      expect(e.code).toBe("SERVER_ERROR");
      expect(e.message).toMatch(/503/);
      expect(e.profile).toBe("greenlake");
    }
    expect((await h.counters("greenlake")).apiCalls).toBe(0); // the expired token was never sent
    expect((await raw(`${base}/.hpauth/healthz`)).status).toBe(200);
    const ready = await raw(`${base}/.hpauth/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.json().code).toBe("SERVER_ERROR");
    await h.emu.admin.clearFaults();
    expect((await raw(`${base}/api/v1/storage-systems`)).status).toBe(200);
    const ok = await raw(`${base}/.hpauth/readyz`);
    expect(ok.status).toBe(200);
    expect(ok.json().expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("Aruba budget spent: the 502's retry_at is rounded up (never before the next login is allowed)", async () => {
    const { base, manager } = await start("aruba-central");
    expect((await raw(`${base}/monitoring/v2/aps`)).status).toBe(200);
    await h.emu.admin.revoke("aruba-central"); // the grant is dead, and a new login is 30 minutes away
    const res = await raw(`${base}/monitoring/v2/aps`);
    expect(res.status).toBe(502);
    const e = res.json();
    expect(e.code).toBe("LOGIN_BUDGET_EXHAUSTED");
    const allowedAt = (await manager.status()).nextLoginAllowedAt?.getTime() ?? Number.NaN;
    // Real time: allowedAt has milliseconds (999 times in 1000), which a rounded-down retry_at would fall before.
    expect(e.retry_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(e.retry_at)).toBeGreaterThanOrEqual(allowedAt);
    expect(Date.parse(e.retry_at)).toBeLessThan(allowedAt + 1000);
    expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
  });

  it("bad credentials: 502 INVALID_CLIENT with a hint, secrets never in the answer", async () => {
    const manager = h.manager("greenlake", { clientSecret: "wrong-secret-value-1234" });
    const run = await proxyFor([{ name: "gl", manager }]);
    running.push(run);
    const res = await raw(`${run.url()}/api/v1/storage-systems`);
    expect(res.status).toBe(502);
    expect(res.json().code).toBe("INVALID_CLIENT");
    expect(res.text).not.toContain("wrong-secret-value-1234");
  });
});

describe("own endpoints and shutdown", () => {
  it("metrics: requests by status class, upstream classes, latency histogram; unknown reserved path 404", async () => {
    const { base } = await start("greenlake");
    await raw(`${base}/api/v1/storage-systems`);
    await raw(`${base}/api/v1/nope`);
    expect((await raw(`${base}/.hpauth/other`)).status).toBe(404);
    const m = await raw(`${base}/.hpauth/metrics`);
    expect(m.headers["content-type"]).toMatch(/text\/plain/);
    expect(m.text).toMatch(/hpauth_proxy_requests_total\{profile="greenlake",code_class="2xx"\} 1\b/);
    expect(m.text).toMatch(/hpauth_proxy_upstream_responses_total\{profile="greenlake",code_class="4xx"\} 1\b/);
    expect(m.text).toMatch(/hpauth_proxy_request_duration_seconds_count\{profile="greenlake"\} [23]\b/);
  });

  it("one listener per profile, each with its own upstream", async () => {
    const gl = h.manager("greenlake");
    const ar = h.manager("aruba-central");
    const run = await proxyFor([
      { name: "gl", manager: gl },
      { name: "ar", manager: ar },
    ]);
    running.push(run);
    expect(Object.keys(run.proxy.proxies)).toEqual(["gl", "ar"]);
    expect(run.proxy.proxies.gl!.upstream).toBe(h.emu.providers.greenlake.baseUrl);
    expect(run.proxy.proxies.ar!.healthUrl).toBe(`${run.url("ar")}/.hpauth/healthz`);
    expect((await raw(`${run.url("gl")}/api/v1/storage-systems`)).status).toBe(200);
    expect((await raw(`${run.url("ar")}/monitoring/v2/aps`)).status).toBe(200);
    expect((await raw(`${run.url("ar")}/api/v1/storage-systems`)).status).toBe(404);
  });

  it("close(): stops accepting, lets an in-flight request finish", async () => {
    const { base, proxy } = await start("greenlake");
    expect((await raw(`${base}/api/v1/storage-systems`)).status).toBe(200);
    await h.emu.admin.fault({ provider: "greenlake", endpoint: "api", type: "delay", delayMs: 400 });
    const slow = raw(`${base}/api/v1/storage-systems`);
    await new Promise((r) => setTimeout(r, 100));
    const closed = proxy.close();
    await expect(raw(`${base}/api/v1/storage-systems`)).rejects.toThrow();
    expect((await slow).status).toBe(200);
    await closed;
  });
});

describe("egress proxy", () => {
  it("HTTP_PROXY carries the upstream requests (undici EnvHttpProxyAgent); NO_PROXY bypasses it", async () => {
    const { createServer } = await import("node:http");
    const seen: string[] = [];
    // A minimal forward proxy: CONNECT tunnels (what undici's ProxyAgent uses, http:// targets included).
    const egress = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(502).end();
    });
    const { connect } = await import("node:net");
    egress.on("connect", (req, client, head) => {
      seen.push(`CONNECT ${req.url}`);
      const [host, port] = String(req.url).split(":");
      const server = connect(Number(port), host, () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        server.write(head);
        server.pipe(client);
        client.pipe(server);
      });
      server.on("error", () => client.destroy());
      client.on("error", () => server.destroy());
    });
    await new Promise<void>((r) => egress.listen(0, "127.0.0.1", () => r()));
    const egressUrl = `http://127.0.0.1:${(egress.address() as { port: number }).port}`;
    try {
      const via = await start("greenlake", { env: { HTTP_PROXY: egressUrl } });
      expect((await raw(`${via.base}/api/v1/storage-systems?limit=1`)).status).toBe(200);
      expect(seen).toEqual([`CONNECT ${new URL(h.emu.providers.greenlake.baseUrl).host}`]);
      const bypass = await start("greenlake", { env: { HTTP_PROXY: egressUrl, NO_PROXY: "127.0.0.1" } });
      expect((await raw(`${bypass.base}/api/v1/storage-systems`)).status).toBe(200);
      expect(seen).toHaveLength(1);
    } finally {
      egress.closeAllConnections();
      await new Promise((r) => egress.close(r));
    }
  });
});

describe("provider-specific refusals (the engine's isAuthFailure reads the body)", () => {
  it("GreenLake 403 HPE_GL_ERROR 'expired' → renewed and retried; any other 400/403 body reaches the caller intact", async () => {
    const { createServer } = await import("node:http");
    const big = `{"errorCode":"HPE_GL_ERROR_BAD_REQUEST","message":"bad","pad":"${"x".repeat(200 * 1024)}"}`;
    let calls = 0;
    // DSCC as some clients report it: an expired token answered with 403 and an HPE_GL_ERROR body.
    const api = createServer((req, res) => {
      req.resume();
      calls++;
      if (req.url === "/first-expired" && calls === 1) {
        res.writeHead(403, { "content-type": "application/json" });
        return res.end('{"errorCode":"HPE_GL_ERROR_FORBIDDEN","message":"Jwt verification failed: token expired"}');
      }
      if (req.url === "/bad") {
        res.writeHead(400, { "content-type": "application/json" });
        return res.end(big);
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"ok":true}');
    });
    await new Promise<void>((r) => api.listen(0, "127.0.0.1", () => r()));
    try {
      const manager = h.manager("greenlake", {
        apiBaseUrl: `http://127.0.0.1:${(api.address() as { port: number }).port}`,
      });
      const run = await proxyFor([{ name: "gl", manager }]);
      running.push(run);
      const healed = await raw(`${run.url()}/first-expired`);
      expect(healed.status).toBe(200);
      expect(calls).toBe(2);
      expect((await h.counters("greenlake")).tokensIssued).toBe(2);
      const bad = await raw(`${run.url()}/bad`);
      expect(bad.status).toBe(400);
      expect(bad.text).toBe(big); // the 64 KiB the engine looked at, then the rest, in order
      expect(calls).toBe(3);
    } finally {
      await new Promise((r) => api.close(r));
    }
  });
});
