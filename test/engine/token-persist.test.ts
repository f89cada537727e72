/**
 * What a grant or a refresh saves (TokenManager's record), from the token endpoint's exact answer: the expiry
 * (expires_in, capped by the provider's documented maximum, never past a JWT's own exp, bounded to a Date), the
 * refresh token kept or rotated and when it was issued, scope and the non-secret extras kept across a refresh, and
 * the bookkeeping `status` shows (lastRefreshAt, lastLoginAt). A one-route server answers each request with the next
 * scripted JSON body; the manager's clock is pinned so every time is exact.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_TIME_MS } from "../../src/engine/dates.js";
import type { TokenRecord } from "../../src/stores/types.js";
import { useHarness } from "./helpers.js";

const h = useHarness({}, { reset: false });
const NOW = Date.parse("2026-12-02T12:00:00.000Z");
const DAY = 86_400_000;

let srv: Server;
let base = "";
const answers: unknown[] = [];
const seen: string[] = [];
beforeAll(async () => {
  srv = createServer((req, res) => {
    seen.push(`${req.method} ${req.url?.split("?")[0]}`);
    req.resume();
    const { __status, ...body } = (answers.shift() ?? { __status: 500, error: "server_error" }) as {
      __status?: number;
    };
    res.writeHead(__status ?? 200, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => srv.close(() => r()));
});

function jwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "RS256", typ: "JWT" })}.${b64(claims)}.c2lnbmF0dXJl`;
}

function manager(provider: "aruba-central" | "greenlake", now = NOW) {
  answers.length = 0;
  seen.length = 0;
  return h.manager(provider, { baseUrl: base }, { runtime: { ...h.runtime, now: () => now } });
}

/** An Aruba grant whose access token expired, as a refresh would find it. */
function arubaGrant(m: ReturnType<typeof manager>, r: Partial<TokenRecord> = {}): TokenRecord {
  return {
    v: 1,
    provider: "aruba-central",
    profile: m.profile.name,
    accessToken: "old-access",
    tokenType: "Bearer",
    expiresAt: NOW - 1000,
    obtainedAt: NOW - 7_201_000,
    refreshToken: "old-refresh",
    refreshTokenIssuedAt: NOW - 3 * DAY,
    lastRefreshAt: NOW - 2 * DAY,
    lastLoginAt: NOW - 3 * DAY,
    scope: "all",
    meta: { appname: "central" },
    updatedAt: NOW - 1000,
    ...r,
  };
}

describe("a refresh", () => {
  it("without a new refresh token: the old one, its issue time, scope and extras are kept; lastRefreshAt is now", async () => {
    const m = manager("aruba-central");
    await m.store.set(m.key, arubaGrant(m));
    answers.push({ access_token: "new-access", token_type: "bearer", expires_in: 7200 });
    const t = await m.getToken();
    expect(t.source).toBe("refresh");
    expect(seen).toEqual(["POST /oauth2/token"]);
    const rec = await m.store.get(m.key);
    expect(rec).toEqual({
      v: 1,
      provider: "aruba-central",
      profile: m.profile.name,
      accessToken: "new-access",
      tokenType: "Bearer",
      expiresAt: NOW + 7200_000,
      obtainedAt: NOW,
      updatedAt: NOW,
      refreshToken: "old-refresh",
      refreshTokenIssuedAt: NOW - 3 * DAY,
      lastRefreshAt: NOW,
      lastLoginAt: NOW - 3 * DAY,
      scope: "all",
      meta: { appname: "central" },
    });
    expect(m.events.find((e) => e.type === "refresh")?.message).toMatch(/^token refreshed in \S+$/);
    expect(t.scope).toBe("all");
  });

  it("with a new refresh token, scope and extras: those replace the old, issued now", async () => {
    const m = manager("aruba-central");
    await m.store.set(m.key, arubaGrant(m));
    answers.push({
      access_token: "new-access",
      refresh_token: "new-refresh",
      scope: "read",
      expires_in: 3600,
      customer_id: "c-1",
    });
    await m.getToken();
    const rec = await m.store.get(m.key);
    expect(rec?.refreshToken).toBe("new-refresh");
    expect(rec?.refreshTokenIssuedAt).toBe(NOW);
    expect(rec?.scope).toBe("read");
    expect(rec?.meta).toEqual({ customer_id: "c-1" });
    expect(rec?.expiresAt).toBe(NOW + 3600_000);
    expect(m.events.find((e) => e.type === "refresh")?.message).toMatch(/\(refresh token rotated\)$/);
  });

  it("the same refresh token handed back is not a rotation: its issue time stays", async () => {
    const m = manager("aruba-central");
    await m.store.set(m.key, arubaGrant(m));
    answers.push({ access_token: "new-access", refresh_token: "old-refresh", expires_in: 3600 });
    await m.getToken();
    const rec = await m.store.get(m.key);
    expect(rec?.refreshTokenIssuedAt).toBe(NOW - 3 * DAY);
    expect(m.events.find((e) => e.type === "refresh")?.message).not.toMatch(/rotated/);
  });

  it("a grant record without an issue time or extras stays without them", async () => {
    const m = manager("aruba-central");
    const { refreshTokenIssuedAt: _i, meta: _m, scope: _s, lastLoginAt: _l, ...bare } = arubaGrant(m);
    await m.store.set(m.key, bare);
    answers.push({ access_token: "new-access", expires_in: 3600 });
    await m.getToken();
    const rec = (await m.store.get(m.key)) as TokenRecord;
    expect("refreshTokenIssuedAt" in rec).toBe(false);
    expect("meta" in rec).toBe(false);
    expect("scope" in rec).toBe(false);
    expect("lastLoginAt" in rec).toBe(false);
  });
});

describe("a refresh answer that cannot be used", () => {
  it.each([
    ["HTTP 200 without an access token", { token_type: "Bearer", expires_in: 60 }, "kept"],
    ["HTTP 200 with a token type other than Bearer", { access_token: "x", token_type: "mac" }, "kept"],
    ["HTTP 500 without an OAuth error", { __status: 500, message: "oops" }, "cleared"],
  ] as const)("%s: INVALID_RESPONSE or the like, the marker %s", async (_n, answer, marker) => {
    const m = manager("aruba-central");
    await m.store.set(m.key, arubaGrant(m));
    answers.push(answer, answer, answer);
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toMatch(/^[A-Z_]+$/);
    const rec = await m.store.get(m.key);
    expect(rec?.lastError?.code).toBe(err.code);
    expect(rec?.refreshToken).toBe("old-refresh");
    if (marker === "kept") {
      expect(err.code).toBe("INVALID_RESPONSE");
      expect(err.status).toBe(200);
      expect(rec?.refreshPendingSince).toBe(NOW);
    } else expect(rec?.refreshPendingSince).toBeUndefined();
  });
});

describe("the expiry saved", () => {
  it.each([
    ["expires_in", { expires_in: 600 }, NOW + 600_000],
    ["expires_in beyond the documented 2 h: capped", { expires_in: 99_999 }, NOW + 7200_000],
    ["no expires_in: the provider's default", {}, NOW + 7200_000],
    ["no expires_in, a JWT: its exp", { jwtExpIn: 900 }, NOW + 900_000],
    ["no expires_in, a JWT past the cap: the cap", { jwtExpIn: 10_000 }, NOW + 7200_000],
    ["expires_in longer than the JWT's exp: the exp", { expires_in: 3600, jwtExpIn: 600 }, NOW + 600_000],
    ["expires_in shorter than the JWT's exp: expires_in", { expires_in: 600, jwtExpIn: 3600 }, NOW + 600_000],
    ["a JWT whose exp is long past: 0, never negative", { jwtExpIn: -Math.floor(NOW / 1000) - 1e6 }, 0],
  ] as const)("%s", async (_name, answer, expected) => {
    const m = manager("aruba-central");
    await m.store.set(m.key, arubaGrant(m));
    const { jwtExpIn, ...rest } = answer as { jwtExpIn?: number; expires_in?: number };
    const access = jwtExpIn === undefined ? "opaque-access" : jwt({ exp: Math.floor(NOW / 1000) + jwtExpIn });
    answers.push({ access_token: access, ...rest });
    await m.getToken().catch(() => {});
    expect((await m.store.get(m.key))?.expiresAt).toBe(expected);
  });

  it("a provider without a documented maximum: an absurd expires_in is bounded to what a Date can hold", async () => {
    answers.length = 0;
    const m = h.manager(
      "greenlake",
      {},
      {
        profile: { name: "o", provider: "oauth2", tokenUrl: `${base}/token`, clientId: "id", clientSecret: "s" },
        runtime: { ...h.runtime, now: () => NOW },
      },
    );
    answers.push({ access_token: "forever", token_type: "Bearer", expires_in: 1e20 });
    const t = await m.getToken();
    expect(t.expiresAt.getTime()).toBe(MAX_TIME_MS);
    expect((await m.store.get(m.key))?.expiresAt).toBe(MAX_TIME_MS);
  });
});

describe("a login", () => {
  it("of a provider without refresh: a refresh token in the answer is not kept, nor refresh bookkeeping", async () => {
    const m = manager("greenlake");
    await m.store.set(m.key, {
      v: 1,
      provider: "greenlake",
      accessToken: "old",
      expiresAt: NOW - 1,
      lastRefreshAt: NOW - DAY,
      lastLoginAt: NOW - DAY,
      updatedAt: NOW - DAY,
    });
    answers.push({ access_token: "gl-access", refresh_token: "unexpected", expires_in: 900, scope: "" });
    const t = await m.getToken();
    expect(t.source).toBe("login");
    const rec = (await m.store.get(m.key)) as TokenRecord;
    expect(rec.refreshToken).toBeUndefined();
    expect(rec.refreshTokenIssuedAt).toBeUndefined();
    expect(rec.lastRefreshAt).toBeUndefined();
    expect(rec.lastLoginAt).toBe(NOW);
    expect(rec.scope).toBeUndefined();
    expect(rec.expiresAt).toBe(NOW + 900_000);
    expect(m.events.map((e) => e.type)).toEqual(["login_start", "login"]);
    expect(m.events[0]?.message).toBe("requesting a new grant");
    expect(m.events[1]?.message).toMatch(/^new grant obtained in \S+$/);
  });
});
