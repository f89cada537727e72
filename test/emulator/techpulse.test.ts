import { createHash, randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Emulator, ProviderInfo } from "../../src/emulator/index.js";
import { basic, FORM, hidden, json, postForm, setCookies, start } from "./helpers.js";

let emu: Emulator;
let tp: Required<ProviderInfo>;
const REDIRECT = "http://127.0.0.1:53682/callback";

beforeAll(async () => {
  emu = await start();
  tp = emu.providers.techpulse as Required<ProviderInfo>;
});
afterAll(() => emu.close());
afterEach(() => emu.admin.reset());

function authorizeUrl(params: Record<string, string | undefined> = {}): string {
  const u = new URL("/oauth/v1/authorize", tp.baseUrl);
  const all: Record<string, string | undefined> = {
    client_id: tp.clientId,
    redirect_uri: REDIRECT,
    response_type: "code",
    scope: "Read",
    state: "DCEeFWf45A53sdfKef424",
    ...params,
  };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) u.searchParams.set(k, v);
  return u.href;
}

const get = (url: string, cookie?: string) =>
  fetch(url, { redirect: "manual", ...(cookie ? { headers: { cookie } } : {}) });
const post = (path: string, params: Record<string, string>, cookie?: string) =>
  fetch(new URL(path, tp.baseUrl), {
    method: "POST",
    redirect: "manual",
    headers: { ...FORM, ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(params),
  });

/** The whole browser flow: login page, credentials, consent Allow. Returns the redirect and the session cookie. */
async function browserLogin(params: Record<string, string | undefined> = {}, decision = "allow") {
  const page = await get(authorizeUrl(params));
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toMatch(/<form method="post" action="\/oauth\/v1\/authorize\/login">/);
  expect(html).toContain('name="username"');
  expect(html).toContain('type="password"');
  const interaction = hidden(html, "interaction");
  const login = await post("/oauth/v1/authorize/login", { interaction, username: tp.username, password: tp.password });
  expect(login.status).toBe(200);
  const session = setCookies(login).get("daas_session")!;
  expect(session).toBeTruthy();
  const consent = await login.text();
  expect(consent).toContain('value="allow"');
  expect(consent).toContain('value="deny"');
  const cookie = `daas_session=${session}`;
  const done = await post(
    "/oauth/v1/authorize/consent",
    { interaction: hidden(consent, "interaction"), decision },
    cookie,
  );
  expect(done.status).toBe(302);
  return { location: new URL(done.headers.get("location")!), cookie };
}

async function exchange(code: string, extra: Record<string, string> = {}, redirectUri = REDIRECT) {
  return postForm(`${tp.baseUrl}/oauth/v1/token`, {
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri,
    client_id: tp.clientId,
    client_secret: tp.clientSecret,
    ...extra,
  });
}

const refresh = (rt: string, auth = basic(tp.clientId, tp.clientSecret)) =>
  postForm(
    `${tp.baseUrl}/oauth/v1/token`,
    { grant_type: "refresh_token", refresh_token: rt },
    {
      authorization: auth,
      accept: "application/json",
    },
  );

const report = (token: string, query = "") =>
  fetch(`${tp.baseUrl}/analytics/v1/reports/hwinv/deviceType/type/graph${query}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: "{}",
  });

async function tokens() {
  const { location } = await browserLogin();
  const res = await exchange(location.searchParams.get("code")!);
  expect(res.status).toBe(200);
  return json(res) as Promise<{ access_token: string; refresh_token: string; expires_in: number }>;
}

describe("techpulse authorization screen", () => {
  it("logs in, asks consent, redirects with code and the same state", async () => {
    const { location } = await browserLogin();
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get("state")).toBe("DCEeFWf45A53sdfKef424");
    expect(location.searchParams.get("code")).toMatch(/^[A-Za-z0-9]{20,}$/);
    const c = await emu.admin.counters();
    expect(c.techpulse).toMatchObject({ logins: 1, codes: 1 });
  });

  it("Deny redirects with error=access_denied and the state", async () => {
    const { location } = await browserLogin({}, "deny");
    expect(location.searchParams.get("error")).toBe("access_denied");
    expect(location.searchParams.get("state")).toBe("DCEeFWf45A53sdfKef424");
    expect(location.searchParams.has("code")).toBe(false);
    expect((await emu.admin.counters()).techpulse.refusals.access_denied).toBe(1);
  });

  it("a session cookie skips the screens next time", async () => {
    const { cookie } = await browserLogin();
    const again = await get(authorizeUrl({ state: "second" }), cookie);
    expect(again.status).toBe(302);
    const loc = new URL(again.headers.get("location")!);
    expect(loc.searchParams.get("state")).toBe("second");
    expect(loc.searchParams.get("code")).toBeTruthy();
    expect((await emu.admin.counters()).techpulse.logins).toBe(1);
  });

  it("wrong password re-shows the login page with 401", async () => {
    const html = await (await get(authorizeUrl())).text();
    const res = await post("/oauth/v1/authorize/login", {
      interaction: hidden(html, "interaction"),
      username: tp.username,
      password: "wrong",
    });
    expect(res.status).toBe(401);
    expect(await res.text()).toContain("incorrect");
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it("the page is HTML with a CSP and escapes what it echoes", async () => {
    const res = await get(authorizeUrl());
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
  });

  it("unknown client or unregistered redirect_uri: an error page, never a redirect", async () => {
    for (const params of [
      { client_id: "nope" },
      { client_id: undefined },
      { redirect_uri: "https://evil.example/cb" },
      { redirect_uri: undefined },
      { redirect_uri: "http://127.0.0.1:53682/other" },
      { redirect_uri: "http://localhost.evil.example/callback" },
    ]) {
      const res = await get(authorizeUrl(params));
      expect(res.status, JSON.stringify(params)).toBe(400);
      expect(res.headers.get("location")).toBeNull();
      await res.text();
    }
  });

  it("loopback redirect URIs match on any port (RFC 8252 §7.3), others exactly", async () => {
    for (const uri of [
      "http://localhost",
      "http://localhost:8765/callback",
      "http://[::1]:9/callback",
      "http://127.0.0.1/callback",
    ]) {
      const res = await get(authorizeUrl({ redirect_uri: uri }));
      expect(res.status, uri).toBe(200);
      await res.text();
    }
  });

  it("other bad parameters redirect back with the error and the state", async () => {
    const cases: [Record<string, string | undefined>, string][] = [
      [{ response_type: "token" }, "unsupported_response_type"],
      [{ response_type: undefined }, "invalid_request"],
      [{ scope: "Write" }, "invalid_scope"],
      [{ scope: undefined }, "invalid_request"],
      [{ code_challenge: "x".repeat(43), code_challenge_method: "S512" }, "invalid_request"],
    ];
    for (const [params, error] of cases) {
      const res = await get(authorizeUrl(params));
      expect(res.status).toBe(302);
      const loc = new URL(res.headers.get("location")!);
      expect(loc.searchParams.get("error")).toBe(error);
      expect(loc.searchParams.get("state")).toBe("DCEeFWf45A53sdfKef424");
    }
    const noState = await get(authorizeUrl({ state: undefined }));
    expect(new URL(noState.headers.get("location")!).searchParams.get("error")).toBe("invalid_request");
  });

  it("an expired interaction is refused", async () => {
    const html = await (await get(authorizeUrl())).text();
    await emu.admin.advanceClock(601);
    const res = await post("/oauth/v1/authorize/login", {
      interaction: hidden(html, "interaction"),
      username: tp.username,
      password: tp.password,
    });
    expect(res.status).toBe(400);
    await res.text();
  });
});

describe("techpulse token endpoint", () => {
  it("exchanges a code: the documented fields, 1800 s", async () => {
    const t = await tokens();
    expect(t).toMatchObject({ scope: "Read", token_type: "Bearer", expires_in: 1800 });
    expect(t.access_token.length).toBeGreaterThanOrEqual(28);
    expect(t.refresh_token).toBeTruthy();
    const c = await emu.admin.counters();
    expect(c.techpulse).toMatchObject({ tokensIssued: 1, tokenRequests: 1 });
  });

  it("codes are single use", async () => {
    const { location } = await browserLogin();
    const code = location.searchParams.get("code")!;
    expect((await exchange(code)).status).toBe(200);
    const again = await exchange(code);
    expect(again.status).toBe(400);
    expect((await json(again)).error).toBe("invalid_grant");
  });

  it("codes expire after 60 s on the emulator clock", async () => {
    const { location } = await browserLogin();
    await emu.admin.advanceClock(61);
    const res = await exchange(location.searchParams.get("code")!);
    expect(res.status).toBe(400);
    expect((await json(res)).error).toBe("invalid_grant");
    expect((await emu.admin.counters()).techpulse.refusals.code_expired).toBe(1);
  });

  it("the redirect_uri must be repeated identically", async () => {
    const { location } = await browserLogin();
    const res = await exchange(location.searchParams.get("code")!, {}, "http://127.0.0.1:1/callback");
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ error: "invalid_grant" });
    const missing = await postForm(`${tp.baseUrl}/oauth/v1/token`, {
      grant_type: "authorization_code",
      code: "x",
      client_id: tp.clientId,
      client_secret: tp.clientSecret,
    });
    expect(missing.status).toBe(400);
    expect((await json(missing)).error).toBe("invalid_request");
  });

  it("refuses a bad client secret, a missing one, JSON bodies and GET", async () => {
    const { location } = await browserLogin();
    const bad = await exchange(location.searchParams.get("code")!, { client_secret: "nope" });
    expect(bad.status).toBe(401);
    expect((await json(bad)).error).toBe("invalid_client");
    const noSecret = await postForm(`${tp.baseUrl}/oauth/v1/token`, {
      grant_type: "authorization_code",
      code: "x",
      redirect_uri: REDIRECT,
      client_id: tp.clientId,
    });
    expect(noSecret.status).toBe(401);
    const asJson = await fetch(`${tp.baseUrl}/oauth/v1/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "authorization_code" }),
    });
    expect(asJson.status).toBe(400);
    expect((await json(asJson)).error).toBe("invalid_request");
    const viaGet = await fetch(`${tp.baseUrl}/oauth/v1/token`);
    expect(viaGet.status).toBe(405);
    expect(viaGet.headers.get("allow")).toBe("POST");
    const grant = await postForm(`${tp.baseUrl}/oauth/v1/token`, { grant_type: "password" });
    expect((await json(grant)).error).toBe("unsupported_grant_type");
  });

  it("PKCE S256: verified when a challenge was sent, refused when missing or wrong", async () => {
    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const pkce = { code_challenge: challenge, code_challenge_method: "S256" };
    let { location } = await browserLogin(pkce);
    expect((await exchange(location.searchParams.get("code")!)).status).toBe(400);
    ({ location } = await browserLogin(pkce));
    const wrong = await exchange(location.searchParams.get("code")!, {
      code_verifier: randomBytes(32).toString("base64url"),
    });
    expect(wrong.status).toBe(400);
    ({ location } = await browserLogin(pkce));
    expect((await exchange(location.searchParams.get("code")!, { code_verifier: verifier })).status).toBe(200);
    // A verifier for a code issued without a challenge is a downgrade: refused.
    ({ location } = await browserLogin());
    expect((await exchange(location.searchParams.get("code")!, { code_verifier: verifier })).status).toBe(400);
  });

  it("refresh needs Basic auth, rotates, and refuses the old refresh token", async () => {
    const t = await tokens();
    const noBasic = await postForm(`${tp.baseUrl}/oauth/v1/token`, {
      grant_type: "refresh_token",
      refresh_token: t.refresh_token,
      client_id: tp.clientId,
      client_secret: tp.clientSecret,
    });
    expect(noBasic.status).toBe(401);
    expect(noBasic.headers.get("www-authenticate")).toMatch(/^Basic/);
    const r1 = await refresh(t.refresh_token);
    expect(r1.status).toBe(200);
    const n1 = (await json(r1)) as typeof t;
    expect(n1.refresh_token).not.toBe(t.refresh_token);
    expect(n1.access_token).not.toBe(t.access_token);
    const replay = await refresh(t.refresh_token);
    expect(replay.status).toBe(400);
    expect((await json(replay)).error).toBe("invalid_grant");
    // Default: only the replayed token is refused, the family lives on.
    expect((await refresh(n1.refresh_token)).status).toBe(200);
    const c = await emu.admin.counters();
    expect(c.techpulse.refreshes).toBe(2);
    expect(c.techpulse.refusals.refresh_reused).toBe(1);
  });

  it("redirect_uri in the refresh body (public scripts) is accepted", async () => {
    const t = await tokens();
    const res = await postForm(
      `${tp.baseUrl}/oauth/v1/token`,
      { grant_type: "refresh_token", refresh_token: t.refresh_token, redirect_uri: REDIRECT },
      { authorization: basic(tp.clientId, tp.clientSecret) },
    );
    expect(res.status).toBe(200);
  });

  it("refresh tokens die after 365 days", async () => {
    const t = await tokens();
    await emu.admin.advanceClock(365 * 86400 + 1);
    expect((await refresh(t.refresh_token)).status).toBe(400);
  });
});

describe("techpulse report API", () => {
  it("pages device types with startIndex/count (query or body)", async () => {
    const t = await tokens();
    const first = await report(t.access_token, "?startIndex=0&count=5");
    expect(first.status).toBe(200);
    const body = await json(first);
    expect(body).toMatchObject({ totalCount: 12, startIndex: 0, count: 5 });
    expect((body.resources as unknown[]).length).toBe(5);
    const viaBody = await fetch(`${tp.baseUrl}/analytics/v1/reports/hwinv/deviceType/type/graph`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.access_token}`, "content-type": "application/json" },
      body: JSON.stringify({ startIndex: 10, count: 5 }),
    });
    expect(await json(viaBody)).toMatchObject({ startIndex: 10, count: 2 });
    expect((await report(t.access_token, "?count=-1")).status).toBe(400);
  });

  it("401 Apigee fault for an expired, unknown or foreign token; a refreshed one works", async () => {
    const t = await tokens();
    await emu.admin.advanceClock(1801);
    const expired = await report(t.access_token);
    expect(expired.status).toBe(401);
    expect(((await json(expired)).fault as { faultstring: string }).faultstring).toMatch(/expired/i);
    expect((await report("9vVLTv496kRmIAkfRwDvAUAr271T")).status).toBe(401);
    const r = (await json(await refresh(t.refresh_token))) as typeof t;
    expect((await report(r.access_token)).status).toBe(200);
    const c = await emu.admin.counters();
    expect(c.techpulse.apiCalls).toBe(3);
  });

  it("strict default: a newer login invalidates older tokens; a refresh the previous access token", async () => {
    const a = await tokens();
    const b = await tokens();
    expect((await report(a.access_token)).status).toBe(401);
    expect((await refresh(a.refresh_token)).status).toBe(400);
    expect((await report(b.access_token)).status).toBe(200);
    const r = (await json(await refresh(b.refresh_token))) as typeof a;
    expect((await report(b.access_token)).status).toBe(401);
    expect((await report(r.access_token)).status).toBe(200);
  });
});

describe("techpulse options", () => {
  it("expires_in in milliseconds like the seed's sample, several valid tokens, family revocation", async () => {
    const e = await start({
      techpulseExpiresInMillis: true,
      techpulseLatestTokenOnly: false,
      revokeFamilyOnRefreshReuse: true,
    });
    try {
      const p = e.providers.techpulse as Required<ProviderInfo>;
      const login = async () => {
        const page = await fetch(authorizeUrlFor(p), { redirect: "manual" });
        const html = await page.text();
        const l = await fetch(`${p.baseUrl}/oauth/v1/authorize/login`, {
          method: "POST",
          redirect: "manual",
          headers: FORM,
          body: new URLSearchParams({
            interaction: hidden(html, "interaction"),
            username: p.username,
            password: p.password,
          }),
        });
        const cookie = `daas_session=${setCookies(l).get("daas_session")}`;
        const c = await fetch(`${p.baseUrl}/oauth/v1/authorize/consent`, {
          method: "POST",
          redirect: "manual",
          headers: { ...FORM, cookie },
          body: new URLSearchParams({ interaction: hidden(await l.text(), "interaction"), decision: "allow" }),
        });
        const code = new URL(c.headers.get("location")!).searchParams.get("code")!;
        return json(
          await postForm(`${p.baseUrl}/oauth/v1/token`, {
            grant_type: "authorization_code",
            code,
            redirect_uri: REDIRECT,
            client_id: p.clientId,
            client_secret: p.clientSecret,
          }),
        ) as Promise<{ access_token: string; refresh_token: string; expires_in: number }>;
      };
      const a = await login();
      expect(a.expires_in).toBe(1799999);
      const b = await login();
      const call = (tok: string) =>
        fetch(`${p.baseUrl}/analytics/v1/reports/hwinv/deviceType/type/graph`, {
          method: "POST",
          headers: { authorization: `Bearer ${tok}` },
        });
      expect((await call(a.access_token)).status).toBe(200);
      expect((await call(b.access_token)).status).toBe(200);
      const rf = (rt: string) =>
        postForm(
          `${p.baseUrl}/oauth/v1/token`,
          { grant_type: "refresh_token", refresh_token: rt },
          { authorization: basic(p.clientId, p.clientSecret) },
        );
      const n = (await json(await rf(a.refresh_token))) as typeof a;
      expect((await rf(a.refresh_token)).status).toBe(400); // replay → the whole family dies
      expect((await rf(n.refresh_token)).status).toBe(400);
      expect((await call(n.access_token)).status).toBe(401);
      expect((await call(b.access_token)).status).toBe(200);
    } finally {
      await e.close();
    }
  });
});

function authorizeUrlFor(p: Required<ProviderInfo>): string {
  const u = new URL("/oauth/v1/authorize", p.baseUrl);
  u.search = new URLSearchParams({
    client_id: p.clientId,
    redirect_uri: REDIRECT,
    response_type: "code",
    scope: "Read",
    state: "s1",
  }).toString();
  return u.href;
}
