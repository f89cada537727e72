/** Aruba Central's one-login-per-client-id-per-30-minutes budget, kept in the store across managers and profiles. */
import { describe, expect, it } from "vitest";
import { createTokenManager } from "../../src/engine/manager.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import { useHarness } from "./helpers.js";

const h = useHarness();

describe("aruba-central login budget", () => {
  it("a second login inside 30 minutes is refused locally with retryAt, across profiles sharing the store", async () => {
    const store = new MemoryTokenStore();
    const a = createTokenManager({ profile: h.profile("aruba-central", { name: "a" }), store, runtime: h.runtime });
    const first = await a.login();
    expect(first.source).toBe("login");
    // Another profile (another user, same client id) in the same store: its own credential, the same budget.
    const b = createTokenManager({
      profile: h.profile("aruba-central", { name: "b", username: "someone-else" }),
      store,
      runtime: h.runtime,
    });
    expect(b.key).not.toBe(a.key);
    const err = await b.login().catch((e) => e);
    expect(err.code).toBe("LOGIN_BUDGET_EXHAUSTED");
    expect(err.retryAt).toBeInstanceOf(Date);
    const expected = h.now() + 30 * 60_000;
    expect(Math.abs(err.retryAt.getTime() - expected)).toBeLessThan(5_000);
    expect(err.message).toContain(err.retryAt.toISOString());
    expect((await a.status()).nextLoginAllowedAt?.getTime()).toBe(err.retryAt.getTime());
    // Nothing reached the server for the refused attempt.
    expect((await h.counters("aruba-central")).logins).toBe(1);
  });

  it("revoked refresh falls back to steps 1-3 only when the budget allows", async () => {
    const m = h.manager("aruba-central");
    await m.getToken();
    await h.emu.admin.revoke("aruba-central");
    await h.advance(10 * 60);
    const early = await m.getToken({ forceRefresh: true }).catch((e) => e);
    expect(early.code).toBe("LOGIN_BUDGET_EXHAUSTED");
    let c = await h.counters("aruba-central");
    expect(c.logins).toBe(1);
    expect(c.refusals.refresh_revoked ?? Object.keys(c.refusals).length).toBeTruthy();
    // The dead refresh token is dropped, so it is never presented again.
    expect((await m.store.get(m.key))?.refreshToken).toBeUndefined();
    await h.advance(21 * 60);
    const later = await m.getToken();
    expect(later.source).toBe("login");
    c = await h.counters("aruba-central");
    expect(c.logins).toBe(2);
    expect(c.tokensIssued).toBe(2);
  });

  it("the budget is claimed before step 1; a wrong password releases it (no token could have been created)", async () => {
    const store = new MemoryTokenStore();
    const bad = createTokenManager({
      profile: h.profile("aruba-central", { password: "wrong-password-1" }),
      store,
      runtime: h.runtime,
    });
    const err = await bad.login().catch((e) => e);
    expect(err.code).toBe("INVALID_GRANT");
    expect(err.message).not.toContain("wrong-password-1");
    const good = createTokenManager({ profile: h.profile("aruba-central"), store, runtime: h.runtime });
    expect((await good.login()).source).toBe("login");
  });

  it("a server-side refusal (another tool logged in) becomes LOGIN_BUDGET_EXHAUSTED with the server's retry time", async () => {
    const other = h.manager("aruba-central");
    await other.login();
    const fresh = h.manager("aruba-central"); // its own empty store: does not know about the first login
    const err = await fresh.login().catch((e) => e);
    expect(err.code).toBe("LOGIN_BUDGET_EXHAUSTED");
    expect(err.retryAt.getTime()).toBeGreaterThan(h.now() + 29 * 60_000);
  });

  it("status warns about a refresh token idle for more than 12 days", async () => {
    const m = h.manager("aruba-central");
    await m.getToken();
    await h.advance(13 * 86400);
    const s = await m.status();
    expect(s.warnings.join(" ")).toMatch(/idle 13 days/);
  });
});
