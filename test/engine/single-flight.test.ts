/**
 * In-process single-flight (issue 13 item 1): N concurrent callers on ONE manager share one refresh through the
 * in-flight join, not merely through the store's lock and the re-read under it. The store lock alone also ends
 * with one token request, so these tests count what only the join saves: lock acquisitions and store reads
 * (through a counting TokenStore — the public store interface, wrapped, not a mock of our HTTP layer).
 */
import { describe, expect, it } from "vitest";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import type { LockOptions, SetOptions, TokenRecord, TokenStore } from "../../src/stores/types.js";
import { useHarness } from "./helpers.js";

const h = useHarness();
const N = 40;

class CountingStore implements TokenStore {
  readonly kind = "counting";
  gets = 0;
  sets = 0;
  locks = 0;
  constructor(readonly inner: TokenStore = new MemoryTokenStore()) {}
  get(key: string): Promise<TokenRecord | undefined> {
    this.gets++;
    return this.inner.get(key);
  }
  set(key: string, record: TokenRecord, options?: SetOptions): Promise<void> {
    this.sets++;
    return this.inner.set(key, record, options);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  list(): Promise<string[]> {
    return this.inner.list();
  }
  withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    this.locks++;
    return this.inner.withLock(key, fn, options);
  }
  reset(): void {
    this.gets = this.sets = this.locks = 0;
  }
}

describe("in-process single flight", () => {
  it(`${N} concurrent getToken() on an expired token, slow endpoint: one lock, one re-read, one request`, async () => {
    const store = new CountingStore();
    const m = h.manager("techpulse", {}, { store });
    await m.getToken();
    await h.advance(3600);
    await h.emu.admin.resetCounters();
    await h.emu.admin.fault({ provider: "techpulse", endpoint: "token", type: "delay", delayMs: 300 });
    store.reset();
    const tokens = await Promise.all(Array.from({ length: N }, () => m.getToken()));
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(tokens.every((t) => t.source === "refresh")).toBe(true);
    // Without the join each caller would take the lock in turn and re-read under it: N locks, 2N reads.
    expect(store.locks).toBe(1);
    expect(store.gets).toBe(N + 1); // each caller's cache check + the flight's re-read under the lock
    expect(store.sets).toBe(2); // the in-flight marker, then the result
    const c = await h.counters("techpulse");
    expect(c.tokenRequests).toBe(1);
    expect(c.refreshes).toBe(1);
  });

  it(`${N} concurrent renewRejected(sameToken): one refresh; a caller whose token was already replaced gets the new one without a lock`, async () => {
    const store = new CountingStore();
    const m = h.manager("aruba-central", {}, { store });
    const t0 = await m.getToken();
    await h.emu.admin.resetCounters();
    await h.emu.admin.fault({ provider: "aruba-central", endpoint: "token", type: "delay", delayMs: 300 });
    store.reset();
    const renewed = await Promise.all(Array.from({ length: N }, () => m.renewRejected(t0.accessToken)));
    expect(new Set(renewed.map((t) => t.accessToken)).size).toBe(1);
    expect(renewed[0]?.accessToken).not.toBe(t0.accessToken);
    expect(store.locks).toBe(1);
    expect((await h.counters("aruba-central")).refreshes).toBe(1);
  });

  it("callers that join a failing flight share its one failure: one request, one error", async () => {
    const store = new CountingStore();
    const m = h.manager("greenlake", {}, { store, retry: { attempts: 1 } });
    await h.emu.admin.fault({ provider: "greenlake", endpoint: "token", type: "status", status: 400, count: N });
    const results = await Promise.allSettled(Array.from({ length: N }, () => m.getToken()));
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    const errors = new Set(results.map((r) => (r as PromiseRejectedResult).reason));
    expect(errors.size).toBe(1);
    expect((await h.counters("greenlake")).tokenRequests).toBe(1);
    expect(store.locks).toBe(1);
  });
});
