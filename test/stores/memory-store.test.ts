/**
 * The in-process token store (the library's fallback, and the tests'): what a caller gets back is never the store's
 * own copy, a damaged record is judged as any store judges it, and its lock waits like the others' (five minutes
 * by default, or what the caller says).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { HpauthError } from "../../src/engine/errors.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import { DEFAULT_LOCK_TIMEOUT_MS } from "../../src/stores/mutex.js";
import type { TokenRecord } from "../../src/stores/types.js";

const rec = (extra: Partial<TokenRecord> = {}): TokenRecord => ({
  v: 1,
  provider: "greenlake",
  accessToken: "at",
  expiresAt: 1_900_000_000_000,
  obtainedAt: 1_899_999_000_000,
  updatedAt: 1_899_999_000_000,
  ...extra,
});

/** Warnings this process emits while `fn` runs. */
async function warnings<T>(fn: () => Promise<T>): Promise<{ value: T; seen: Error[] }> {
  const seen: Error[] = [];
  const on = (w: Error) => seen.push(w);
  process.on("warning", on);
  try {
    const value = await fn();
    // process.emitWarning delivers on the next tick.
    await new Promise((r) => setImmediate(r));
    return { value, seen };
  } finally {
    process.off("warning", on);
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe("MemoryTokenStore", () => {
  it("keeps records by key, lists and deletes them", async () => {
    const s = new MemoryTokenStore();
    expect(s.kind).toBe("memory");
    expect(await s.get("a")).toBeUndefined();
    await s.set("a", rec({ accessToken: "A" }));
    await s.set("b", rec({ accessToken: "B" }));
    expect((await s.get("a"))?.accessToken).toBe("A");
    expect((await s.list()).sort()).toEqual(["a", "b"]);
    await s.delete("a");
    expect(await s.get("a")).toBeUndefined();
    expect(await s.list()).toEqual(["b"]);
    await s.delete("never-there");
    expect(await s.list()).toEqual(["b"]);
  });

  it("what goes in and what comes out are copies: a caller changing either changes nothing stored", async () => {
    const s = new MemoryTokenStore();
    const mine = rec({ meta: { cc_id: "x" } });
    await s.set("k", mine);
    mine.accessToken = "changed";
    (mine.meta as Record<string, unknown>).cc_id = "changed";
    const got = await s.get("k");
    expect(got).toEqual(rec({ meta: { cc_id: "x" } }));
    if (got) got.accessToken = "changed again";
    expect((await s.get("k"))?.accessToken).toBe("at");
  });

  it("a damaged record set by a library caller: the rest is used, with a warning naming the record", async () => {
    const s = new MemoryTokenStore();
    await s.set("k1", { ...rec(), scope: 42 } as unknown as TokenRecord);
    const { value, seen } = await warnings(() => s.get("k1"));
    expect(value).toEqual(rec());
    expect(seen).toHaveLength(1);
    expect(seen[0]?.message).toMatch(
      /^Token record "k1" \(memory store\) has damaged fields \(scope is not a string\)/,
    );
    expect((seen[0] as Error & { code?: string }).code).toBe("HPAUTH_STORE");
  });

  it("a record with nothing safe in it is a STORE_ERROR naming it", async () => {
    const s = new MemoryTokenStore();
    await s.set("k2", { v: 1 } as unknown as TokenRecord);
    const e = (await s.get("k2").catch((x) => x)) as HpauthError;
    expect(e.code).toBe("STORE_ERROR");
    expect(e.message).toBe('Token record "k2" (memory store) is unreadable: missing or invalid provider.');
  });

  it("one holder per key at a time, other keys free", async () => {
    const s = new MemoryTokenStore();
    const order: string[] = [];
    let release!: () => void;
    const first = s.withLock("k", async () => {
      order.push("first in");
      await new Promise<void>((r) => (release = r));
      order.push("first out");
      return 1;
    });
    const second = s.withLock("k", async () => {
      order.push("second in");
      return 2;
    });
    expect(await s.withLock("other", async () => "free")).toBe("free");
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(["first in"]);
    release();
    expect(await Promise.all([first, second])).toEqual([1, 2]);
    expect(order).toEqual(["first in", "first out", "second in"]);
  });

  it("a waiter gives up after the caller's timeout, or after five minutes when none is given", async () => {
    const s = new MemoryTokenStore();
    let release!: () => void;
    const held = s.withLock("k", () => new Promise<void>((r) => (release = r)));
    const e = (await s.withLock("k", async () => "never", { timeoutMs: 30 }).catch((x) => x)) as HpauthError;
    expect(e.code).toBe("LOCK_TIMEOUT");
    expect(e.message).toBe("Timed out after 30 ms waiting for another token operation.");

    expect(DEFAULT_LOCK_TIMEOUT_MS).toBe(5 * 60_000);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const outcome = s
      .withLock("k", async () => "got it")
      .then(
        (v) => v,
        (x: HpauthError) => x.code,
      );
    let settled: unknown;
    void outcome.then((v) => {
      settled = v;
    });
    await vi.advanceTimersByTimeAsync(DEFAULT_LOCK_TIMEOUT_MS - 1);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toBe("LOCK_TIMEOUT");
    vi.useRealTimers();
    release();
    await held;
    expect(await s.withLock("k", async () => "after")).toBe("after");
  });

  it("a waiter whose caller cancels stops waiting", async () => {
    const s = new MemoryTokenStore();
    let release!: () => void;
    const held = s.withLock("k", () => new Promise<void>((r) => (release = r)));
    const c = new AbortController();
    const waiting = s.withLock("k", async () => "never", { signal: c.signal }).catch((x: HpauthError) => x.code);
    c.abort();
    expect(await waiting).toBe("CANCELLED");
    release();
    await held;
  });
});
