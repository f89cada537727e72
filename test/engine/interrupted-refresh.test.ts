/**
 * A refresh of a rotating refresh token that reached the server must not be thrown away by a cancellation:
 * the server has already rotated, so the old refresh token in the store is dead. Ctrl-C mid-refresh waits for
 * the answer and saves it; the next caller is served without a new login.
 */
import { describe, expect, it } from "vitest";
import { createTokenManager } from "../../src/engine/manager.js";
import { useHarness } from "./helpers.js";

const h = useHarness();

describe("interrupted refresh", () => {
  it("an abort while the Aruba refresh is in flight keeps the rotated refresh token; no login follows", async () => {
    const m = h.manager("aruba-central");
    const first = await m.getToken();
    expect(first.source).toBe("login");
    await h.advance(7200);

    await h.emu.admin.fault({ provider: "aruba-central", endpoint: "token", type: "delay", delayMs: 600 });
    const ac = new AbortController();
    const pending = m.getToken({ signal: ac.signal });
    setTimeout(() => ac.abort(), 150);
    const refreshed = await pending;
    expect(refreshed.source).toBe("refresh");

    const before = await h.counters("aruba-central");
    expect(before.refreshes).toBe(1);
    // Another process (a fresh manager on the same store) finds the saved token and its rotated refresh token.
    const other = createTokenManager({ profile: h.profile("aruba-central"), store: m.store, runtime: h.runtime });
    expect((await other.getToken()).accessToken).toBe(refreshed.accessToken);
    await h.advance(7200);
    expect((await other.getToken()).source).toBe("refresh");
    const after = await h.counters("aruba-central");
    expect(after.logins).toBe(1);
    expect(after.refreshes).toBe(2);
    expect(Object.keys(after.refusals)).toHaveLength(0);
  });

  it("an abort before the refresh is sent still cancels", async () => {
    const m = h.manager("aruba-central");
    await m.getToken();
    await h.advance(7200);
    const ac = new AbortController();
    ac.abort();
    const err = await m.getToken({ signal: ac.signal }).catch((e) => e);
    expect(err.code).toBe("CANCELLED");
    expect((await h.counters("aruba-central")).refreshes).toBe(0);
  });
});
