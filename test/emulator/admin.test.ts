/** The admin API (clock, faults, revoke, counters, reset) and the server's robustness. */
import { request } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Emulator, ProviderInfo } from "../../src/emulator/index.js";
import { basic, json, postForm, postJson, start } from "./helpers.js";

let emu: Emulator;
let gl: Required<ProviderInfo>;
beforeAll(async () => {
  emu = await start();
  gl = emu.providers.greenlake as Required<ProviderInfo>;
});
afterAll(() => emu.close());
afterEach(() => emu.admin.reset());

const glToken = () =>
  postForm(`${gl.baseUrl}/as/token.oauth2`, {
    grant_type: "client_credentials",
    client_id: gl.clientId,
    client_secret: gl.clientSecret,
  });
const admin = (path: string, body?: unknown, method?: string) =>
  fetch(new URL(path, emu.adminUrl), {
    method: method ?? (body === undefined ? "GET" : "POST"),
    ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });

describe("clock", () => {
  it("GET /clock and POST /clock/advance", async () => {
    const before = await json(await admin("/clock"));
    expect(before.offsetSeconds).toBe(0);
    expect(Math.abs(Number(before.epochMs) - Date.now())).toBeLessThan(5000);
    expect(new Date(String(before.now)).getTime()).toBe(before.epochMs);
    const after = await json(await admin("/clock/advance", { seconds: 90 }));
    expect(after.offsetSeconds).toBe(90);
    expect(Number(after.epochMs) - Number(before.epochMs)).toBeGreaterThanOrEqual(90_000);
    expect((await admin("/clock/advance", { seconds: -1 })).status).toBe(400);
    expect((await admin("/clock/advance", { seconds: "x" })).status).toBe(400);
    await emu.admin.reset();
    expect((await emu.admin.clock()).offsetSeconds).toBe(0);
  });
});

describe("faults", () => {
  it("status with Retry-After, for `count` requests, then normal again", async () => {
    await emu.admin.fault({
      provider: "greenlake",
      endpoint: "token",
      type: "status",
      status: 503,
      retryAfter: 7,
      count: 2,
    });
    for (let i = 0; i < 2; i++) {
      const res = await glToken();
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("7");
      await res.text();
    }
    expect((await glToken()).status).toBe(200);
    const c = await emu.admin.counters();
    expect(c.greenlake).toMatchObject({ tokenRequests: 3, tokensIssued: 1 });
  });

  it("429 status fault", async () => {
    await emu.admin.fault({ provider: "greenlake", endpoint: "token", type: "status", status: 429, retryAfter: 1 });
    expect((await glToken()).status).toBe(429);
  });

  it("faults match provider and endpoint only", async () => {
    await emu.admin.fault({ provider: "hpe-identity", endpoint: "token", type: "status", status: 500 });
    await emu.admin.fault({ provider: "greenlake", endpoint: "api", type: "status", status: 500 });
    expect((await glToken()).status).toBe(200);
    await emu.admin.clearFaults();
    expect(((await json(await admin("/faults"))).faults as unknown[]).length).toBe(0);
  });

  it("wildcards: provider * and endpoint *", async () => {
    await emu.admin.fault({ provider: "*", endpoint: "*", type: "status", status: 502 });
    expect((await glToken()).status).toBe(502);
    expect((await glToken()).status).toBe(200);
  });

  it("delay: slow, then the normal answer", async () => {
    await emu.admin.fault({ provider: "greenlake", endpoint: "token", type: "delay", delayMs: 300 });
    const t0 = Date.now();
    const res = await glToken();
    expect(res.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
  });

  it("malformed: 200 with a body that is not JSON", async () => {
    await emu.admin.fault({ provider: "greenlake", endpoint: "token", type: "malformed" });
    const res = await glToken();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/json/);
    await expect(res.json()).rejects.toThrow();
  });

  it("truncated: the body stops halfway and the connection dies", async () => {
    await emu.admin.fault({ provider: "greenlake", endpoint: "token", type: "truncated" });
    const res = await glToken();
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it("html: a 502 HTML error page (or the status asked for)", async () => {
    await emu.admin.fault({ provider: "greenlake", endpoint: "token", type: "html" });
    await emu.admin.fault({ provider: "greenlake", endpoint: "token", type: "html", status: 504 });
    const a = await glToken();
    expect(a.status).toBe(502);
    expect(a.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await a.text()).toContain("<html>");
    expect((await glToken()).status).toBe(504);
  });

  it("drop: no answer at all", async () => {
    await emu.admin.fault({ provider: "greenlake", endpoint: "token", type: "drop" });
    await expect(glToken()).rejects.toThrow();
    expect((await glToken()).status).toBe(200);
  });

  it("api, login and code endpoints", async () => {
    const t = await json(await glToken());
    await emu.admin.fault({ provider: "greenlake", endpoint: "api", type: "status", status: 500 });
    expect(
      (await fetch(`${gl.baseUrl}/api/v1/storage-systems`, { headers: { authorization: `Bearer ${t.access_token}` } }))
        .status,
    ).toBe(500);
    const ar = emu.providers["aruba-central"] as Required<ProviderInfo>;
    await emu.admin.fault({ provider: "aruba-central", endpoint: "login", type: "status", status: 503 });
    expect(
      (await postJson(`${ar.baseUrl}/oauth2/authorize/central/api/login?client_id=${ar.clientId}`, {})).status,
    ).toBe(503);
    await emu.admin.fault({ provider: "aruba-central", endpoint: "code", type: "status", status: 500 });
    expect((await postJson(`${ar.baseUrl}/oauth2/authorize/central/api?client_id=${ar.clientId}`, {})).status).toBe(
      500,
    );
    const wxp = emu.providers.wxp as Required<ProviderInfo>;
    await emu.admin.fault({ provider: "wxp", endpoint: "login", type: "status", status: 503 });
    expect((await postForm(`${wxp.baseUrl}/auth/login`, {})).status).toBe(503);
    const tp = emu.providers.techpulse as Required<ProviderInfo>;
    await emu.admin.fault({ provider: "techpulse", endpoint: "authorize", type: "html" });
    expect((await fetch(`${tp.baseUrl}/oauth/v1/authorize`)).status).toBe(502);
  });

  it("bad fault specs are refused", async () => {
    for (const spec of [
      { provider: "nope", endpoint: "token", type: "status" },
      { provider: "greenlake", endpoint: "nope", type: "status" },
      { provider: "greenlake", endpoint: "token", type: "nope" },
      { provider: "greenlake", endpoint: "token", type: "status", status: 999 },
      { provider: "greenlake", endpoint: "token", type: "delay", delayMs: -1 },
      { provider: "greenlake", endpoint: "token", type: "status", count: 0 },
    ]) {
      expect((await admin("/faults", spec)).status, JSON.stringify(spec)).toBe(400);
    }
    expect((await fetch(new URL("/faults", emu.adminUrl), { method: "POST", body: "{nope" })).status).toBe(400);
  });
});

describe("revoke, counters, reset", () => {
  it("revokes one grant by token, or all of a provider", async () => {
    const a = String((await json(await glToken())).access_token);
    const b = String((await json(await glToken())).access_token);
    const call = (t: string) =>
      fetch(`${gl.baseUrl}/api/v1/storage-systems`, { headers: { authorization: `Bearer ${t}` } });
    expect(await emu.admin.revoke("greenlake", a)).toBe(1);
    expect((await call(a)).status).toBe(401);
    expect((await call(b)).status).toBe(200);
    const c = String((await json(await glToken())).access_token);
    expect(await emu.admin.revoke("greenlake")).toBe(2);
    expect((await call(b)).status).toBe(401);
    expect((await call(c)).status).toBe(401);
    const unknown = await admin("/revoke", { provider: "greenlake", token: "nope" });
    expect(unknown.status).toBe(404);
    expect((await admin("/revoke", { provider: "techpulse", token: a })).status).toBe(404);
    expect((await admin("/revoke", {})).status).toBe(400);
  });

  it("counters: every key for every provider; reset zeroes them", async () => {
    await glToken();
    const c = await emu.admin.counters();
    for (const p of ["techpulse", "wxp", "greenlake", "aruba-central", "hpe-identity", "greenlake-platform"] as const) {
      expect(Object.keys(c[p]).sort()).toEqual([
        "apiCalls",
        "codes",
        "logins",
        "refreshes",
        "refusals",
        "tokenRequests",
        "tokensIssued",
      ]);
    }
    expect(c.greenlake.tokensIssued).toBe(1);
    await emu.admin.resetCounters();
    expect((await emu.admin.counters()).greenlake.tokensIssued).toBe(0);
  });

  it("POST /reset forgets grants, faults, counters and the clock", async () => {
    const t = String((await json(await glToken())).access_token);
    await emu.admin.fault({ provider: "greenlake", endpoint: "api", type: "status", status: 500, count: 5 });
    await emu.admin.advanceClock(10);
    await emu.admin.reset();
    expect((await emu.admin.clock()).offsetSeconds).toBe(0);
    expect((await emu.admin.counters()).greenlake.tokensIssued).toBe(0);
    const res = await fetch(`${gl.baseUrl}/api/v1/storage-systems`, { headers: { authorization: `Bearer ${t}` } });
    expect(res.status).toBe(401); // grant forgotten, and no 500 fault left
  });

  it("unknown admin paths and methods", async () => {
    expect((await admin("/nope")).status).toBe(404);
    expect((await admin("/clock", undefined, "DELETE")).status).toBe(405);
    expect(await json(await admin("/"))).toMatchObject({ adminUrl: emu.adminUrl });
  });
});

/** Raw HTTP for what fetch will not send (streamed bodies without a length). */
function rawPost(
  url: string,
  chunks: Buffer[],
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe("robustness", () => {
  it("413 for a body over 64 KiB, declared or streamed; the server keeps going", async () => {
    const big = "x".repeat(65 * 1024);
    const declared = await postForm(`${gl.baseUrl}/as/token.oauth2`, { grant_type: "client_credentials", pad: big });
    expect(declared.status).toBe(413);
    const streamed = await rawPost(
      `${gl.baseUrl}/as/token.oauth2`,
      Array.from({ length: 20 }, () => Buffer.alloc(8192, 97)),
      {
        "content-type": "application/x-www-form-urlencoded",
        "transfer-encoding": "chunked",
      },
    );
    expect(streamed.status).toBe(413);
    expect((await emu.admin.counters()).greenlake.refusals.body_too_large).toBe(2);
    expect((await glToken()).status).toBe(200);
  });

  it("garbage never crashes it: bad JSON, wrong types, odd headers, unknown paths", async () => {
    const ar = emu.providers["aruba-central"] as Required<ProviderInfo>;
    const id = emu.providers["hpe-identity"] as Required<ProviderInfo>;
    const cases: [string, RequestInit][] = [
      [`${ar.baseUrl}/oauth2/token`, { method: "POST", headers: { "content-type": "application/json" }, body: "[1,2" }],
      [
        `${ar.baseUrl}/oauth2/token`,
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: '{"client_id": 5, "grant_type": ["x"]}',
        },
      ],
      [
        `${ar.baseUrl}/oauth2/authorize/central/api/login?client_id=${ar.clientId}`,
        { method: "POST", headers: { "content-type": "application/json" }, body: "null" },
      ],
      [
        `${id.baseUrl}/services/oauth/token`,
        {
          method: "POST",
          headers: { authorization: "Basic !!!", "content-type": "multipart/form-data; boundary=x" },
          body: "--x\r\nbroken",
        },
      ],
      [
        `${id.baseUrl}/services/oauth/token`,
        {
          method: "POST",
          headers: {
            authorization: basic(id.clientId, id.clientSecret),
            "content-type": "multipart/form-data; boundary=x",
          },
          body: "--x\r\nbroken",
        },
      ],
      [
        `${gl.baseUrl}/as/token.oauth2`,
        { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "%%%&&&==" },
      ],
      [`${gl.baseUrl}/api/v1/storage-systems?offset=abc&limit=-5`, { headers: { authorization: "Bearer" } }],
      [`${gl.baseUrl}/nope`, {}],
      [`${gl.baseUrl}/as/token.oauth2`, { method: "PUT" }],
    ];
    for (const [url, init] of cases) {
      const res = await fetch(url, init);
      expect(res.status, url).toBeGreaterThanOrEqual(400);
      expect(res.status, url).toBeLessThan(500);
      await res.text();
    }
    expect((await glToken()).status).toBe(200);
  });

  it("concurrent clients: 40 token requests at once all succeed and are counted", async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, () => glToken().then(async (r) => [r.status, (await json(r)).access_token] as const)),
    );
    expect(results.every(([s]) => s === 200)).toBe(true);
    expect(new Set(results.map(([, t]) => t)).size).toBe(40);
    expect((await emu.admin.counters()).greenlake).toMatchObject({ tokensIssued: 40, tokenRequests: 40 });
  });

  it("a refresh token raced by 10 concurrent refreshes rotates exactly once", async () => {
    const ar = emu.providers["aruba-central"] as Required<ProviderInfo>;
    const l = await postJson(`${ar.baseUrl}/oauth2/authorize/central/api/login?client_id=${ar.clientId}`, {
      username: ar.username,
      password: ar.password,
    });
    const ck = new Map(l.headers.getSetCookie().map((c) => c.split(";")[0]!.split("=") as [string, string]));
    const code = String(
      (
        await json(
          await postJson(
            `${ar.baseUrl}/oauth2/authorize/central/api?client_id=${ar.clientId}&response_type=code&scope=all`,
            { customer_id: ar.customerId },
            { cookie: `session=${ck.get("session")}`, "x-csrf-token": ck.get("csrftoken")! },
          ),
        )
      ).auth_code,
    );
    const t = await json(
      await postJson(`${ar.baseUrl}/oauth2/token`, {
        client_id: ar.clientId,
        client_secret: ar.clientSecret,
        grant_type: "authorization_code",
        code,
      }),
    );
    const q = new URLSearchParams({
      client_id: ar.clientId,
      client_secret: ar.clientSecret,
      grant_type: "refresh_token",
      refresh_token: String(t.refresh_token),
    });
    const statuses = await Promise.all(
      Array.from({ length: 10 }, () =>
        fetch(`${ar.baseUrl}/oauth2/token?${q}`, { method: "POST" }).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 200).length).toBe(1);
    expect(statuses.filter((s) => s === 400).length).toBe(9);
  });
});
