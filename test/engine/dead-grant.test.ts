/**
 * A refresh token that died while its access token still lives (Aruba's idle limit, shortened here to 10 minutes):
 * the dead refresh token is dropped, never presented again; the access token is kept and served unless the API
 * refused it; the login that would replace the grant says why the grant died when Aruba's budget refuses it.
 */
import { describe, expect, it } from "vitest";
import { useHarness } from "./helpers.js";

const IDLE_SECONDS = 600;
const h = useHarness({ lifetimes: { "aruba-central": { refreshSeconds: IDLE_SECONDS } } });

const BUDGET_HINT = "Wait until then, or import a token pair created in the Central UI (`hpauth login --import`).";

describe("a dead refresh token, its access token still valid", () => {
  it("asked for more life than is left: the refresh is refused, the login blocked by the budget and explained; the access token is kept and served", async () => {
    const m = h.manager("aruba-central");
    const t0 = await m.getToken();
    await h.advance(IDLE_SECONDS + 1);
    const err = await m.getToken({ minTtlSeconds: 7000 }).catch((e) => e);
    expect(err.code).toBe("LOGIN_BUDGET_EXHAUSTED");
    expect(err.message).toMatch(
      /^The stored refresh token was refused by HPE Aruba Networking Central \(revoked, expired, or already used by a refresh whose answer never arrived — e\.g\. a process killed mid-refresh\)\. HPE Aruba Networking Central allows one new login per client id per 30m; /,
    );
    // The budget refusal's own parts survive the explanation.
    expect(err.hint).toBe(BUDGET_HINT);
    expect(err.retryAt).toBeInstanceOf(Date);
    expect(err.profile).toBe(m.profile.name);
    expect(err.provider).toBe("aruba-central");
    expect(err.cause?.code).toBe("LOGIN_BUDGET_EXHAUSTED");
    expect(m.events.filter((e) => e.type === "grant_dead").map((e) => e.message)).toEqual([
      "the refresh token was refused; a new login is needed",
    ]);
    const rec = await m.store.get(m.key);
    expect(rec?.refreshToken).toBeUndefined();
    expect(rec?.refreshTokenIssuedAt).toBeUndefined();
    expect(rec?.accessToken).toBe(t0.accessToken);
    // What status reports is the refusal the server made (the budget's refusal was local, before any request).
    expect(rec?.lastError?.code).toBe("INVALID_GRANT");
    // Without the demand for 7000 s, the stored token is good for the next caller, and nothing is sent for it.
    await h.emu.admin.resetCounters();
    const again = await m.getToken();
    expect(again.accessToken).toBe(t0.accessToken);
    expect(again.source).toBe("cache");
    expect((await h.counters("aruba-central")).tokenRequests).toBe(0);
    const s = await m.status();
    expect(s.hasRefreshToken).toBe(false);
    expect(s.state).toBe("valid");
  });

  it("the API refused the access token (renewRejected): it is forgotten with its grant", async () => {
    const m = h.manager("aruba-central");
    const t0 = await m.getToken();
    await h.advance(IDLE_SECONDS + 1);
    const err = await m.renewRejected(t0.accessToken).catch((e) => e);
    expect(err.code).toBe("LOGIN_BUDGET_EXHAUSTED");
    const rec = await m.store.get(m.key);
    expect(rec?.refreshToken).toBeUndefined();
    expect(rec?.accessToken).toBeUndefined();
    expect(rec?.expiresAt).toBeUndefined();
    expect((await m.status()).state).toBe("none");
    expect((await h.counters("aruba-central")).refusals).toEqual({ refresh_expired: 1 });
  });

  it("once the budget allows, the next call logs in (one login, the dead refresh token never sent again)", async () => {
    const m = h.manager("aruba-central");
    const t0 = await m.getToken();
    await h.advance(IDLE_SECONDS + 1);
    await m.renewRejected(t0.accessToken).catch(() => {});
    await h.advance(30 * 60);
    await h.emu.admin.resetCounters();
    const t = await m.getToken();
    expect(t.source).toBe("login");
    const c = await h.counters("aruba-central");
    expect(c.logins).toBe(1);
    expect(c.refreshes).toBe(0);
    expect(c.refusals).toEqual({});
    const rec = await m.store.get(m.key);
    expect(rec?.lastLoginAt).toBeGreaterThan(h.now() - 60_000);
    expect(rec?.refreshToken).toBeTypeOf("string");
  });
});
