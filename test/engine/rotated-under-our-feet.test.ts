/**
 * A refresh token refused because another process rotated it under our feet (a store without a real lock, or a lock
 * broken as stale): the manager re-reads before declaring the grant dead, and serves — or refreshes with — the
 * grant the other process saved. No new login, no dead-grant event. The store here is the public TokenStore
 * interface with a lock that excludes nobody; TechPulse rotates refresh tokens and refuses a reused one.
 */
import { describe, expect, it } from "vitest";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import type { LockOptions, SetOptions, TokenRecord, TokenStore } from "../../src/stores/types.js";
import { useHarness } from "./helpers.js";

const h = useHarness();

class LocklessStore implements TokenStore {
  readonly kind = "lockless";
  readonly inner = new MemoryTokenStore();
  get(key: string): Promise<TokenRecord | undefined> {
    return this.inner.get(key);
  }
  set(key: string, record: TokenRecord, _options?: SetOptions): Promise<void> {
    return this.inner.set(key, record);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  list(): Promise<string[]> {
    return this.inner.list();
  }
  withLock<T>(_key: string, fn: () => Promise<T>, _options?: LockOptions): Promise<T> {
    return fn();
  }
}

/** Two "processes" on one lockless store; the first one's refresh, sent 300 ms ahead, is held 1 s at the server. */
async function race() {
  const store = new LocklessStore();
  const first = h.manager("techpulse", {}, { store });
  const second = h.manager("techpulse", {}, { store });
  await first.getToken();
  first.events.length = 0;
  second.events.length = 0;
  await h.advance(1800);
  await h.emu.admin.resetCounters();
  await h.emu.admin.fault({ provider: "techpulse", endpoint: "token", type: "delay", delayMs: 1000 });
  return { store, first, second };
}

describe("a refresh token rotated by another process meanwhile", () => {
  it("the refusal of ours is followed by a re-read: the other process's token is served, no login", async () => {
    const { first, second } = await race();
    // Whichever request reaches the server first is held; the other rotates the refresh token meanwhile.
    const a = first.getToken();
    await new Promise((r) => setTimeout(r, 300));
    const [ta, tb] = await Promise.all([a, second.getToken()]);
    expect(ta.accessToken).toBe(tb.accessToken);
    expect([ta.source, tb.source].sort()).toEqual(["cache", "refresh"]);
    const c = await h.counters("techpulse");
    expect(c.refreshes).toBe(1);
    expect(c.logins).toBe(0);
    expect(c.refusals).toEqual({ refresh_reused: 1 });
    for (const m of [first, second]) {
      expect(m.events.some((e) => e.type === "grant_dead" || e.type === "login_start")).toBe(false);
    }
  });

  it("when that token is not enough for the caller, it refreshes again with the rotated refresh token", async () => {
    const { store, first, second } = await race();
    const a = first.getToken({ minTtlSeconds: 1800 });
    await new Promise((r) => setTimeout(r, 300));
    const tb = await second.getToken();
    const ta = await a;
    expect(ta.source).toBe("refresh");
    expect(ta.accessToken).not.toBe(tb.accessToken);
    const c = await h.counters("techpulse");
    expect(c.refreshes).toBe(2);
    expect(c.logins).toBe(0);
    expect(c.refusals).toEqual({ refresh_reused: 1 });
    expect((await store.get(first.key))?.accessToken).toBe(ta.accessToken);
  });
});
