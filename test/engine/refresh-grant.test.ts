/** TokenManager.refreshGrant (what `hpauth keepalive` calls): a refresh only, under the lock, never a login. */
import { describe, expect, it } from "vitest";
import { useHarness } from "./helpers.js";

const h = useHarness();
const DAY = 86_400_000;

describe("refreshGrant", () => {
  it("Aruba: the refresh-token expiry follows 15 idle days; not needed while it lives past the moment asked", async () => {
    const m = h.manager("aruba-central");
    await m.getToken();
    const dies = (await m.status()).refreshTokenExpiresAt!.getTime();
    expect(Math.abs(dies - (h.now() + 15 * DAY))).toBeLessThan(5_000);
    const before = await h.counters("aruba-central");
    const skip = await m.refreshGrant({ unlessLivesPast: h.now() + 7 * DAY });
    expect(skip).toEqual({ outcome: "not_needed", refreshTokenExpiresAt: new Date(dies) });
    expect((await h.counters("aruba-central")).tokenRequests).toBe(before.tokenRequests);
    await h.advance(10 * 86_400);
    const dry = await m.refreshGrant({ unlessLivesPast: h.now() + 7 * DAY, dryRun: true });
    expect(dry.outcome).toBe("would_refresh");
    const done = await m.refreshGrant({ unlessLivesPast: h.now() + 7 * DAY });
    expect(done.outcome).toBe("refreshed");
    expect(done.token?.source).toBe("refresh");
    expect(Math.abs(done.refreshTokenExpiresAt!.getTime() - (h.now() + 15 * DAY))).toBeLessThan(5_000);
    const after = await h.counters("aruba-central");
    expect(after.refreshes).toBe(before.refreshes + 1);
    expect(after.logins).toBe(before.logins);
  });

  it("in one process, a getToken and a refreshGrant at once share the refresh", async () => {
    const m = h.manager("aruba-central");
    await m.getToken();
    await h.advance(10 * 86_400); // the access token expired long ago: getToken refreshes too
    const before = await h.counters("aruba-central");
    const [t, g] = await Promise.all([m.getToken(), m.refreshGrant({ unlessLivesPast: h.now() + 7 * DAY })]);
    // Whichever holds the lock first refreshes; the other finds the new token under the lock.
    expect([t.source, g.outcome].sort()).toEqual(
      g.outcome === "refreshed" ? ["cache", "refreshed"] : ["not_needed", "refresh"],
    );
    expect((await h.counters("aruba-central")).refreshes).toBe(before.refreshes + 1);
  });

  it("a refused refresh token: LOGIN_REQUIRED with what to do, and no login, even with the budget free", async () => {
    const m = h.manager("aruba-central");
    await m.getToken();
    await h.emu.admin.revoke("aruba-central");
    await h.advance(3600); // Aruba's budget would allow a login now
    const before = await h.counters("aruba-central");
    const err = await m.refreshGrant().catch((e) => e);
    expect(err.code).toBe("LOGIN_REQUIRED");
    expect(err.hint).toMatch(/hpauth login -p/);
    const after = await h.counters("aruba-central");
    expect(after.logins).toBe(before.logins);
    expect(after.codes).toBe(before.codes);
    expect((await m.status()).lastError?.code).toBe("INVALID_GRANT");
  });

  it("no refresh grant (GreenLake, WXP) or none stored: no_refresh_token, nothing sent", async () => {
    for (const p of ["greenlake", "wxp", "techpulse"] as const) {
      const r = await h.manager(p).refreshGrant();
      expect(r.outcome, p).toBe("no_refresh_token");
      expect(r.reason, p).toMatch(p === "techpulse" ? /no refresh token is stored/ : /has no refresh grant/);
    }
    for (const p of ["greenlake", "wxp", "techpulse"] as const) expect((await h.counters(p)).tokenRequests, p).toBe(0);
  });
});
