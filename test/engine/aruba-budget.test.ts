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
    expect(err.message).toMatch(/^HPE Aruba Networking Central allows one new login per client id per 30m; /);
    expect((await a.status()).nextLoginAllowedAt?.getTime()).toBe(err.retryAt.getTime());
    // Nothing reached the server for the refused attempt: one login, no refusal of any kind.
    const c = await h.counters("aruba-central");
    expect(c.logins).toBe(1);
    expect(c.refusals).toEqual({});
  });

  it("revoked refresh falls back to steps 1-3 only when the budget allows", async () => {
    const m = h.manager("aruba-central");
    await m.getToken();
    await h.emu.admin.revoke("aruba-central");
    await h.advance(10 * 60);
    const early = await m.getToken({ forceRefresh: true }).catch((e) => e);
    expect(early.code).toBe("LOGIN_BUDGET_EXHAUSTED");
    expect(early.message).toMatch(
      /^The stored refresh token was refused by HPE Aruba Networking Central \(revoked, expired/,
    );
    let c = await h.counters("aruba-central");
    expect(c.logins).toBe(1);
    // Exactly one refusal, and the one meant: the revoked refresh token (no login step reached the server).
    expect(c.refusals).toEqual({ refresh_revoked: 1 });
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
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/^Aruba login \(step 1\) refused: HTTP 401/);
    expect(err.message).not.toContain("wrong-password-1");
    expect((await h.counters("aruba-central")).refusals).toEqual({ invalid_credentials: 1 });
    const good = createTokenManager({ profile: h.profile("aruba-central"), store, runtime: h.runtime });
    expect((await good.login()).source).toBe("login");
  });

  it("a server-side refusal (another tool logged in) becomes LOGIN_BUDGET_EXHAUSTED with the server's retry time", async () => {
    const other = h.manager("aruba-central");
    await other.login();
    const fresh = h.manager("aruba-central"); // its own empty store: does not know about the first login
    const err = await fresh.login().catch((e) => e);
    expect(err.code).toBe("LOGIN_BUDGET_EXHAUSTED");
    expect(err.status).toBe(429);
    expect(err.message).toMatch(/^Aruba Central refused the login: one new token per client id per 30 minutes/);
    expect(err.retryAt.getTime()).toBeGreaterThan(h.now() + 29 * 60_000);
    // The server's refusal, at step 1, for its rate limit: not a local refusal, not another reason.
    expect((await h.counters("aruba-central")).refusals).toEqual({ rate_limited: 1 });
    // A refusal by the server's budget keeps the local claim: the next attempt is refused locally, nothing sent.
    await h.emu.admin.resetCounters();
    expect((await fresh.login().catch((e) => e)).code).toBe("LOGIN_BUDGET_EXHAUSTED");
    expect((await h.counters("aruba-central")).tokenRequests + (await h.counters("aruba-central")).logins).toBe(0);
  });

  it("status warns about a refresh token idle for more than 12 days", async () => {
    const m = h.manager("aruba-central");
    await m.getToken();
    await h.advance(13 * 86400);
    const s = await m.status();
    expect(s.warnings.join(" ")).toMatch(/idle 13 days/);
  });

  // Issue 7.2: the claim is released when the server's answer proves no token was created, kept when unknown.
  const FAST = { retry: { attempts: 2, timeoutMs: 700, nonIdempotentTimeoutMs: 700, baseDelayMs: 1 } };
  it.each([
    ["step 1: 503 (after retries)", "login", { type: "status", status: 503, count: 2 }, "SERVER_ERROR", "released"],
    ["step 1: timeout", "login", { type: "delay", delayMs: 1500, count: 2 }, "TIMEOUT", "released"],
    ["step 2: HTML error page", "code", { type: "html", count: 2 }, "SERVER_ERROR", "released"],
    ["step 2: dropped connection", "code", { type: "drop", count: 2 }, "NETWORK_ERROR", "released"],
    ["step 3: 500 (after retries)", "token", { type: "status", status: 500, count: 2 }, "SERVER_ERROR", "released"],
    ["step 3: 429", "token", { type: "status", status: 429, count: 2 }, "RATE_LIMITED", "released"],
    ["step 3: 502 HTML page", "token", { type: "html", count: 2 }, "SERVER_ERROR", "released"],
    ["step 3: 400 refusal", "token", { type: "status", status: 400 }, "INVALID_GRANT", "released"],
    // A 2xx says the token was created even if its body cannot be read; a lost answer may be a created token.
    ["step 3: 200 malformed JSON", "token", { type: "malformed" }, "ANSWER_LOST", "kept"],
    ["step 3: 200 truncated", "token", { type: "truncated" }, "ANSWER_LOST", "kept"],
    ["step 3: dropped after sending", "token", { type: "drop" }, "ANSWER_LOST", "kept"],
    ["step 3: no answer in time", "token", { type: "delay", delayMs: 1500 }, "ANSWER_LOST", "kept"],
  ] as const)("%s → %s, budget %s", async (_n, endpoint, fault, code, budget) => {
    await h.emu.admin.fault({ provider: "aruba-central", endpoint, ...fault });
    const m = h.manager("aruba-central", {}, FAST);
    const err = await m.login().catch((e) => e);
    expect(err.code).toBe(code);
    const next = (await m.status()).nextLoginAllowedAt;
    if (budget === "released") {
      expect(next).toBeUndefined();
      expect(m.events.some((e) => e.type === "login_budget_released")).toBe(true);
      // The next login goes ahead at once (and the emulator, which spends its budget on step 3, agrees).
      await new Promise((r) => setTimeout(r, 900)); // let a delayed request finish at the server
      expect((await m.login()).source).toBe("login");
    } else {
      expect(next?.getTime()).toBeGreaterThan(h.now() + 29 * 60_000);
      expect(err.hint).toMatch(/budget stays claimed for 30 minutes/);
      await h.emu.admin.resetCounters();
      const again = await m.login().catch((e) => e);
      expect(again.code).toBe("LOGIN_BUDGET_EXHAUSTED");
      const c = await h.counters("aruba-central");
      expect(c.logins + c.tokenRequests).toBe(0);
    }
  });
});
