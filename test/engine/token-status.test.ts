/**
 * status(): what the store says about a credential, offline (`hpauth status`), field by field — from records
 * written into the store through its public interface, with the manager's clock pinned so every number is exact.
 */
import { describe, expect, it } from "vitest";
import { loginBudgetKey } from "../../src/engine/profile.js";
import type { TokenRecord } from "../../src/stores/types.js";
import { useHarness } from "./helpers.js";

const h = useHarness({}, { reset: false });
const NOW = Date.parse("2026-12-02T12:00:00.000Z");
const DAY = 86_400_000;

function at(provider: "aruba-central" | "greenlake" | "techpulse", now = NOW, extra = {}) {
  return h.manager(provider, extra, { runtime: { ...h.runtime, now: () => now } });
}

function jwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "RS256", typ: "JWT" })}.${b64(claims)}.c2lnbmF0dXJl`;
}

function record(m: { profile: { provider: TokenRecord["provider"]; name: string } }, r: Partial<TokenRecord>) {
  return { v: 1 as const, provider: m.profile.provider, profile: m.profile.name, updatedAt: NOW - 1000, ...r };
}

describe("status()", () => {
  it("nothing stored: state none, no dates, no warnings, names the store", async () => {
    const m = at("greenlake");
    const s = await m.status();
    expect(s).toEqual({
      profile: m.profile.name,
      provider: "greenlake",
      key: m.key,
      store: "memory",
      state: "none",
      hasRefreshToken: false,
      warnings: [],
    });
  });

  it("every field of a full record, exact to the second", async () => {
    const m = at("aruba-central");
    await m.store.set(
      m.key,
      record(m, {
        accessToken: "access-1",
        expiresAt: NOW + 1500,
        obtainedAt: NOW - 7_198_500,
        scope: "read write",
        refreshToken: "refresh-1",
        refreshTokenIssuedAt: NOW - 3 * DAY - 999,
        lastRefreshAt: NOW - 2 * DAY,
        lastLoginAt: NOW - 3 * DAY,
        lastError: { code: "SERVER_ERROR", message: "HTTP 503", at: NOW - 60_000 },
      }),
    );
    const s = await m.status();
    expect(s.state).toBe("expiring");
    expect(s.expiresAt?.getTime()).toBe(NOW + 1500);
    expect(s.expiresInSeconds).toBe(1);
    expect(s.obtainedAt?.getTime()).toBe(NOW - 7_198_500);
    expect(s.scope).toBe("read write");
    expect(s.hasRefreshToken).toBe(true);
    expect(s.refreshTokenIssuedAt?.getTime()).toBe(NOW - 3 * DAY - 999);
    expect(s.refreshTokenAgeSeconds).toBe(3 * 86_400);
    // Aruba: 15 days idle from the last use (here the refresh two days ago).
    expect(s.refreshTokenExpiresAt?.getTime()).toBe(NOW - 2 * DAY + 15 * DAY);
    expect(s.lastRefreshAt?.getTime()).toBe(NOW - 2 * DAY);
    expect(s.lastLoginAt?.getTime()).toBe(NOW - 3 * DAY);
    expect(s.lastError).toEqual({ code: "SERVER_ERROR", message: "HTTP 503", at: new Date(NOW - 60_000) });
    expect(s.warnings).toEqual([]);
  });

  it("expired at the very millisecond of expiresAt; the seconds left round down, also below zero", async () => {
    const m = at("greenlake");
    await m.store.set(m.key, record(m, { accessToken: "a", expiresAt: NOW, obtainedAt: NOW - 900_000 }));
    let s = await m.status();
    expect(s.state).toBe("expired");
    expect(s.expiresInSeconds).toBe(0);
    expect(s.obtainedAt?.getTime()).toBe(NOW - 900_000);
    await m.store.set(m.key, record(m, { accessToken: "a", expiresAt: NOW - 1500 }));
    s = await m.status();
    expect(s.state).toBe("expired");
    expect(s.expiresInSeconds).toBe(-2);
    expect(s.obtainedAt).toBeUndefined();
    await m.store.set(m.key, record(m, { accessToken: "a", expiresAt: NOW + 1 }));
    expect((await m.status()).state).not.toBe("expired");
  });

  it("a record without an access token (a dead grant) is state none even with an expiry", async () => {
    const m = at("greenlake");
    await m.store.set(m.key, record(m, { expiresAt: NOW + 600_000, scope: "" }));
    const s = await m.status();
    expect(s.state).toBe("none");
    expect(s.expiresAt).toBeUndefined();
    expect(s.scope).toBeUndefined();
  });

  it("no refresh token: no refresh-token dates, whatever else the record says", async () => {
    const m = at("aruba-central");
    await m.store.set(
      m.key,
      record(m, { accessToken: "a", expiresAt: NOW + 3_600_000, refreshTokenIssuedAt: NOW - DAY, lastLoginAt: NOW }),
    );
    const s = await m.status();
    expect(s.hasRefreshToken).toBe(false);
    expect(s.refreshTokenIssuedAt).toBeUndefined();
    expect(s.refreshTokenAgeSeconds).toBeUndefined();
    expect(s.refreshTokenExpiresAt).toBeUndefined();
    expect(s.lastLoginAt?.getTime()).toBe(NOW);
    expect(s.lastRefreshAt).toBeUndefined();
  });

  it("refresh token lifetime: the idle limit from the latest use; a JWT's own exp when sooner; unknown without either", async () => {
    const m = at("aruba-central");
    // The latest of issue, refresh and login counts as the last use.
    await m.store.set(
      m.key,
      record(m, {
        refreshToken: "r",
        refreshTokenIssuedAt: NOW - 5 * DAY,
        lastRefreshAt: NOW - 6 * DAY,
        lastLoginAt: NOW - 7 * DAY,
      }),
    );
    expect((await m.status()).refreshTokenExpiresAt?.getTime()).toBe(NOW + 10 * DAY);
    await m.store.set(
      m.key,
      record(m, {
        refreshToken: "r",
        refreshTokenIssuedAt: NOW - 9 * DAY,
        lastRefreshAt: NOW - 6 * DAY,
        lastLoginAt: NOW - 8 * DAY,
      }),
    );
    expect((await m.status()).refreshTokenExpiresAt?.getTime()).toBe(NOW + 9 * DAY);
    await m.store.set(
      m.key,
      record(m, {
        refreshToken: "r",
        refreshTokenIssuedAt: NOW - 9 * DAY,
        lastRefreshAt: NOW - 8 * DAY,
        lastLoginAt: NOW - 4 * DAY,
      }),
    );
    expect((await m.status()).refreshTokenExpiresAt?.getTime()).toBe(NOW + 11 * DAY);
    // A JWT refresh token that expires before the idle limit: its exp.
    const soon = Math.floor(NOW / 1000) + 3600;
    await m.store.set(m.key, record(m, { refreshToken: jwt({ exp: soon }), lastRefreshAt: NOW }));
    expect((await m.status()).refreshTokenExpiresAt?.getTime()).toBe(soon * 1000);
    // One that outlives it: the idle limit.
    const late = Math.floor(NOW / 1000) + 100 * 86_400;
    await m.store.set(m.key, record(m, { refreshToken: jwt({ exp: late }), lastRefreshAt: NOW }));
    expect((await m.status()).refreshTokenExpiresAt?.getTime()).toBe(NOW + 15 * DAY);
    // A JWT and no known use: its exp.
    await m.store.set(m.key, record(m, { refreshToken: jwt({ exp: late }) }));
    expect((await m.status()).refreshTokenExpiresAt?.getTime()).toBe(late * 1000);
    // Neither: unknown.
    await m.store.set(m.key, record(m, { refreshToken: "opaque" }));
    expect((await m.status()).refreshTokenExpiresAt).toBeUndefined();
  });

  it("Aruba: when the login budget allows the next login, only while it is in the future", async () => {
    const m = at("aruba-central");
    const key = loginBudgetKey(m.profile);
    await m.store.set(key, { v: 1, provider: "aruba-central", lastLoginAt: NOW - 10 * 60_000, updatedAt: NOW });
    expect((await m.status()).nextLoginAllowedAt?.getTime()).toBe(NOW + 20 * 60_000);
    await m.store.set(key, { v: 1, provider: "aruba-central", lastLoginAt: NOW - 30 * 60_000, updatedAt: NOW });
    expect((await m.status()).nextLoginAllowedAt).toBeUndefined();
    await m.store.set(key, { v: 1, provider: "aruba-central", lastLoginAt: NOW - 30 * 60_000 + 1, updatedAt: NOW });
    expect((await m.status()).nextLoginAllowedAt?.getTime()).toBe(NOW + 1);
    // A provider without a budget has no such field, whatever the store holds.
    const g = at("greenlake");
    expect((await g.status()).nextLoginAllowedAt).toBeUndefined();
  });

  it("warnings: the provider's own, then a refresh whose answer was lost, with when it was sent", async () => {
    const m = at("aruba-central");
    const sent = NOW - 5 * 60_000;
    await m.store.set(
      m.key,
      record(m, {
        accessToken: "a",
        expiresAt: NOW - 1,
        refreshToken: "r",
        lastRefreshAt: NOW - 13 * DAY,
        refreshPendingSince: sent,
      }),
    );
    const s = await m.status();
    expect(s.warnings).toHaveLength(2);
    expect(s.warnings[0]).toMatch(/^the Aruba refresh token has been idle 13 days; /);
    expect(s.warnings[1]).toBe(
      `a refresh sent at ${new Date(sent).toISOString()} got no answer; the next refresh tells whether the server had rotated the refresh token (then a new login is needed)`,
    );
    // A provider with no warnings of its own still reports the lost answer.
    const g = at("techpulse");
    await g.store.set(g.key, record(g, { refreshToken: "r", refreshPendingSince: sent }));
    expect((await g.status()).warnings).toEqual([s.warnings[1]]);
  });

  it("status sends nothing", async () => {
    await h.emu.admin.resetCounters();
    const m = at("aruba-central");
    await m.store.set(m.key, record(m, { accessToken: "a", expiresAt: NOW - 1, refreshToken: "r" }));
    await m.status();
    const c = await h.counters("aruba-central");
    expect(c.tokenRequests + c.logins).toBe(0);
  });
});
