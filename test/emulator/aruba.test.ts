import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Emulator, ProviderInfo } from "../../src/emulator/index.js";
import { json, postJson, setCookies, start } from "./helpers.js";

let emu: Emulator;
let ar: Required<ProviderInfo>;
beforeAll(async () => {
  emu = await start({ arubaApiPerSecond: 1000 });
  ar = emu.providers["aruba-central"] as Required<ProviderInfo>;
});
afterAll(() => emu.close());
afterEach(() => emu.admin.reset());

const login = (body: unknown = { username: ar.username, password: ar.password }, clientId = ar.clientId) =>
  postJson(`${ar.baseUrl}/oauth2/authorize/central/api/login?client_id=${encodeURIComponent(clientId)}`, body, {
    accept: "application/json",
  });

async function session() {
  const res = await login();
  expect(res.status).toBe(200);
  const c = setCookies(res);
  return { csrf: c.get("csrftoken")!, session: c.get("session")! };
}

const authCode = (s: { csrf: string; session: string }, customerId = ar.customerId, scope = "all") =>
  postJson(
    `${ar.baseUrl}/oauth2/authorize/central/api?client_id=${ar.clientId}&response_type=code&scope=${scope}`,
    { customer_id: customerId },
    { cookie: `session=${s.session}`, "x-csrf-token": s.csrf },
  );

const exchange = (code: string) =>
  postJson(`${ar.baseUrl}/oauth2/token`, {
    client_id: ar.clientId,
    client_secret: ar.clientSecret,
    grant_type: "authorization_code",
    code,
  });

const refresh = (rt: string, secret = ar.clientSecret) =>
  fetch(
    `${ar.baseUrl}/oauth2/token?${new URLSearchParams({ client_id: ar.clientId, client_secret: secret, grant_type: "refresh_token", refresh_token: rt })}`,
    { method: "POST" },
  );

const aps = (token: string, q = "") =>
  fetch(`${ar.baseUrl}/monitoring/v2/aps${q}`, { headers: { authorization: `Bearer ${token}` } });

type Tokens = { access_token: string; refresh_token: string; expires_in: number; token_type: string };
async function threeSteps(): Promise<Tokens> {
  const code = ((await json(await authCode(await session()))) as { auth_code: string }).auth_code;
  const res = await exchange(code);
  expect(res.status).toBe(200);
  return json(res) as Promise<Tokens>;
}

describe("aruba-central OAuth", () => {
  it("three steps: cookies csrftoken + session, auth_code, then the documented token answer", async () => {
    const s = await session();
    expect(s.csrf).toBeTruthy();
    expect(s.session).toBeTruthy();
    const codeRes = await authCode(s);
    expect(codeRes.status).toBe(200);
    const { auth_code } = (await json(codeRes)) as { auth_code: string };
    const t = (await json(await exchange(auth_code))) as Tokens;
    expect(Object.keys(t).sort()).toEqual(["access_token", "expires_in", "refresh_token", "token_type"]);
    expect(t).toMatchObject({ token_type: "bearer", expires_in: 7200 });
    expect((await emu.admin.counters())["aruba-central"]).toMatchObject({
      logins: 1,
      codes: 1,
      tokensIssued: 1,
      tokenRequests: 1,
    });
  });

  it("step 3 also as query parameters (the python SDK's way)", async () => {
    const code = ((await json(await authCode(await session()))) as { auth_code: string }).auth_code;
    const q = new URLSearchParams({
      client_id: ar.clientId,
      client_secret: ar.clientSecret,
      grant_type: "authorization_code",
      code,
    });
    const res = await fetch(`${ar.baseUrl}/oauth2/token?${q}`, { method: "POST" });
    expect(res.status).toBe(200);
  });

  it("step 1 refusals: bad password, missing client_id, unknown client, form body", async () => {
    const bad = await login({ username: ar.username, password: "nope" });
    expect(bad.status).toBe(401);
    expect(bad.headers.getSetCookie()).toEqual([]);
    expect((await fetch(`${ar.baseUrl}/oauth2/authorize/central/api/login`, { method: "POST" })).status).toBe(400);
    expect((await login(undefined, "other")).status).toBe(401);
    const form = await fetch(`${ar.baseUrl}/oauth2/authorize/central/api/login?client_id=${ar.clientId}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username: ar.username, password: ar.password }),
    });
    expect(form.status).toBe(415);
    const malformed = await fetch(`${ar.baseUrl}/oauth2/authorize/central/api/login?client_id=${ar.clientId}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(malformed.status).toBe(400);
  });

  it("step 2 refusals: no cookie, wrong CSRF, wrong customer, bad scope", async () => {
    const s = await session();
    expect((await authCode({ ...s, csrf: "forged" })).status).toBe(401);
    expect((await authCode({ ...s, session: "forged" })).status).toBe(401);
    expect((await authCode(s, "someone-else")).status).toBe(403);
    expect((await authCode(s, ar.customerId, "write")).status).toBe(400);
    const c = (await emu.admin.counters())["aruba-central"].refusals;
    expect(c).toMatchObject({ csrf_mismatch: 1, invalid_session: 1, invalid_customer: 1, invalid_scope: 1 });
  });

  it("codes: single use, 300 s, bound to the client", async () => {
    const code = ((await json(await authCode(await session()))) as { auth_code: string }).auth_code;
    expect((await exchange(code)).status).toBe(200);
    const again = await exchange(code);
    expect(again.status).toBe(400);
    expect((await json(again)).error).toBe("invalid_grant");
    await emu.admin.reset();
    const code2 = ((await json(await authCode(await session()))) as { auth_code: string }).auth_code;
    await emu.admin.advanceClock(301);
    expect((await exchange(code2)).status).toBe(400);
  });

  it("one new access token per client id per 30 minutes, with the time of the next one", async () => {
    await threeSteps();
    const again = await login();
    expect(again.status).toBe(429);
    const body = (await json(again)) as { error_description: string };
    expect(body.error_description).toMatch(/30 minutes/);
    expect(body.error_description).toMatch(/\d{4}-\d\d-\d\dT/);
    expect(Number(again.headers.get("retry-after"))).toBeGreaterThan(1700);
    await emu.admin.advanceClock(1800);
    expect((await login()).status).toBe(200);
  });

  it("refresh by query string rotates; the old one is refused with 'Invalid refresh_token'", async () => {
    const t = await threeSteps();
    const r = await refresh(t.refresh_token);
    expect(r.status).toBe(200);
    const n = (await json(r)) as Tokens;
    expect(n.refresh_token).not.toBe(t.refresh_token);
    const old = await refresh(t.refresh_token);
    expect(old.status).toBe(400);
    expect(await json(old)).toEqual({ error: "invalid_grant", error_description: "Invalid refresh_token" });
    expect((await refresh(n.refresh_token, "bad")).status).toBe(401);
    expect((await emu.admin.counters())["aruba-central"].refreshes).toBe(1);
  });

  it("refresh tokens die after 15 idle days, live if used in time", async () => {
    const t = await threeSteps();
    await emu.admin.advanceClock(14 * 86400);
    const n = (await json(await refresh(t.refresh_token))) as Tokens;
    await emu.admin.advanceClock(14 * 86400);
    const m = await refresh(n.refresh_token);
    expect(m.status).toBe(200);
    await emu.admin.advanceClock(15 * 86400 + 1);
    expect((await refresh(((await json(m)) as Tokens).refresh_token)).status).toBe(400);
  });

  it("admin revocation kills the grant: the refresh fails", async () => {
    const t = await threeSteps();
    expect(await emu.admin.revoke("aruba-central", t.access_token)).toBe(1);
    expect((await refresh(t.refresh_token)).status).toBe(400);
    expect((await aps(t.access_token)).status).toBe(401);
  });
});

describe("aruba-central monitoring API", () => {
  it("lists access points with rate-limit headers", async () => {
    const t = await threeSteps();
    const res = await aps(t.access_token, "?limit=2");
    expect(res.status).toBe(200);
    const body = (await json(res)) as { aps: unknown[]; count: number; total: number };
    expect(body.count).toBe(2);
    expect(body.total).toBe(3);
    expect(res.headers.get("x-ratelimit-limit-day")).toBe("5000");
    expect(res.headers.get("x-ratelimit-remaining-day")).toBe("4999");
    expect(res.headers.get("x-ratelimit-remaining-second")).not.toBeNull();
  });

  it("401 'access token is invalid' for expired, unknown and foreign tokens", async () => {
    const t = await threeSteps();
    await emu.admin.advanceClock(7201);
    for (const tok of [t.access_token, "bogus"]) {
      const res = await aps(tok);
      expect(res.status).toBe(401);
      expect(await json(res)).toEqual({ error: "invalid_token", error_description: "access token is invalid" });
    }
    const gl = emu.providers.greenlake;
    const glTok = (
      await json(
        await fetch(`${gl.baseUrl}/as/token.oauth2`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            grant_type: "client_credentials",
            client_id: gl.clientId!,
            client_secret: gl.clientSecret!,
          }),
        }),
      )
    ).access_token as string;
    expect((await aps(glTok)).status).toBe(401);
  });

  it("429 when the second budget is spent", async () => {
    const e = await start({ arubaApiPerSecond: 2, now: () => 1_700_000_000_000 });
    try {
      const p = e.providers["aruba-central"] as Required<ProviderInfo>;
      const l = await postJson(`${p.baseUrl}/oauth2/authorize/central/api/login?client_id=${p.clientId}`, {
        username: p.username,
        password: p.password,
      });
      const c = setCookies(l);
      const code = (
        await json(
          await postJson(
            `${p.baseUrl}/oauth2/authorize/central/api?client_id=${p.clientId}&response_type=code&scope=read`,
            { customer_id: p.customerId },
            { cookie: `session=${c.get("session")}`, "x-csrf-token": c.get("csrftoken")! },
          ),
        )
      ).auth_code as string;
      const tok = (
        await json(
          await postJson(`${p.baseUrl}/oauth2/token`, {
            client_id: p.clientId,
            client_secret: p.clientSecret,
            grant_type: "authorization_code",
            code,
          }),
        )
      ).access_token as string;
      const call = () => fetch(`${p.baseUrl}/monitoring/v2/aps`, { headers: { authorization: `Bearer ${tok}` } });
      expect((await call()).status).toBe(200);
      expect((await call()).status).toBe(200);
      const third = await call();
      expect(third.status).toBe(429);
      expect(third.headers.get("x-ratelimit-remaining-second")).toBe("0");
      expect(await json(third)).toEqual({ message: "API rate limit exceeded" });
      await e.admin.advanceClock(1);
      expect((await call()).status).toBe(200);
    } finally {
      await e.close();
    }
  });
});
