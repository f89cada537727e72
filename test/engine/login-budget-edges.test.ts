/**
 * The login path's promises at their edges: Aruba's one-login-per-30-minutes budget to the millisecond (claimed at
 * the moment of the claim, in the store, refused with the exact next moment), released — back to what it was —
 * when the login failed before any request could create a token, and the browser-login refusal's wording.
 */
import { describe, expect, it } from "vitest";
import { loginBudgetKey } from "../../src/engine/profile.js";
import { useHarness } from "./helpers.js";

const h = useHarness();
const WINDOW = 30 * 60_000;

function pinned(extra = {}, opts = {}) {
  let now = h.now();
  const m = h.manager("aruba-central", extra, { ...opts, runtime: { ...h.runtime, now: () => now } });
  return {
    m,
    budget: loginBudgetKey(m.profile),
    get now() {
      return now;
    },
    set now(v: number) {
      now = v;
    },
  };
}

describe("Aruba's login budget", () => {
  it("is claimed at the login's start, and refused until exactly 30 minutes later with the exact next moment", async () => {
    const c = pinned();
    const started = c.now;
    await c.m.login();
    expect(await c.m.store.get(c.budget)).toEqual({
      v: 1,
      provider: "aruba-central",
      lastLoginAt: started,
      updatedAt: started,
    });
    expect((await c.m.status()).nextLoginAllowedAt?.getTime()).toBe(started + WINDOW);
    c.now = started + WINDOW - 1;
    const err = await c.m.login().catch((e) => e);
    expect(err.code).toBe("LOGIN_BUDGET_EXHAUSTED");
    expect(err.retryAt.getTime()).toBe(started + WINDOW);
    expect(err.message).toBe(
      `HPE Aruba Networking Central allows one new login per client id per 30m; the last was at ${new Date(started).toISOString()}. Next login allowed at ${new Date(started + WINDOW).toISOString()} (in 1ms).`,
    );
    expect(err.hint).toBe(
      "Wait until then, or import a token pair created in the Central UI (`hpauth login --import`).",
    );
    expect(err.profile).toBe(c.m.profile.name);
    expect(err.provider).toBe("aruba-central");
    // The refused attempt did not move the budget.
    expect((await c.m.store.get(c.budget))?.lastLoginAt).toBe(started);
  });

  it("a budget record exactly 30 minutes old allows the login", async () => {
    const c = pinned();
    await c.m.store.set(c.budget, {
      v: 1,
      provider: "aruba-central",
      lastLoginAt: c.now - WINDOW,
      updatedAt: c.now - WINDOW,
    });
    expect((await c.m.login()).source).toBe("login");
    expect((await c.m.store.get(c.budget))?.lastLoginAt).toBe(c.now);
  });

  it.each([
    [
      "password not configured",
      { password: undefined },
      "CONFIG_INVALID",
      /needs password \(or passwordEnv \/ passwordCommand\)$/,
    ],
    [
      "password from an unset environment variable",
      { password: undefined, passwordEnv: "HPAUTH_TEST_UNSET_PASSWORD" },
      "SECRET_UNAVAILABLE",
      /HPAUTH_TEST_UNSET_PASSWORD/,
    ],
  ] as const)(
    "%s: refused before any request, the claim is released and the earlier record put back",
    async (_n, extra, code, message) => {
      const c = pinned(extra);
      const earlier = {
        v: 1 as const,
        provider: "aruba-central" as const,
        lastLoginAt: c.now - 2 * WINDOW,
        updatedAt: 1,
      };
      await c.m.store.set(c.budget, earlier);
      const err = await c.m.getToken().catch((e) => e);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(message);
      expect(await c.m.store.get(c.budget)).toEqual(earlier);
      const released = c.m.events.filter((e) => e.type === "login_budget_released");
      expect(released.map((e) => e.message)).toEqual(["login refused before any token was created; budget not spent"]);
      const s = await c.m.status();
      expect(s.nextLoginAllowedAt).toBeUndefined();
      expect(s.lastError?.code).toBe(code);
      const counted = await h.counters("aruba-central");
      expect(counted.logins + counted.tokenRequests).toBe(0);
      // Without an earlier record, a released claim leaves none.
      await c.m.store.delete(c.budget);
      await c.m.getToken().catch(() => {});
      expect(await c.m.store.get(c.budget)).toBeUndefined();
    },
  );
});

describe("a browser login that cannot happen here", () => {
  it("no grant stored: LOGIN_REQUIRED naming the profile and the provider, with the command to run", async () => {
    const m = h.manager("techpulse", {}, { authorizer: undefined });
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("LOGIN_REQUIRED");
    expect(err.message).toBe('Profile "techpulse-test" (HP TechPulse Analytics) needs a browser login');
    expect(err.hint).toBe("Run `hpauth login --profile techpulse-test` in a browser-capable terminal.");
    expect(err.provider).toBe("techpulse");
    expect((await h.counters("techpulse")).tokenRequests).toBe(0);
  });

  it("a grant whose refresh token was refused: says the stored grant can no longer be refreshed", async () => {
    const withBrowser = h.manager("techpulse");
    const t = await withBrowser.getToken();
    await h.emu.admin.revoke("techpulse", t.accessToken);
    await h.advance(1800);
    const m = h.manager("techpulse", {}, { authorizer: undefined, store: withBrowser.store });
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("LOGIN_REQUIRED");
    expect(err.message).toBe(
      'The stored refresh token was refused by HP TechPulse Analytics (revoked, expired, or already used by a refresh whose answer never arrived — e.g. a process killed mid-refresh). Profile "techpulse-test" (HP TechPulse Analytics) needs a browser login: the stored grant can no longer be refreshed',
    );
    expect(err.hint).toBe("Run `hpauth login --profile techpulse-test` in a browser-capable terminal.");
  });
});
