/** The TokenStore contract, run against every store: the engine relies on exactly these behaviours. */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { FileTokenStore } from "../../src/stores/file.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import { RedisTokenStore } from "../../src/stores/redis.js";
import type { TokenStore } from "../../src/stores/types.js";
import { cleanup, record, tempDir } from "./helpers.js";
import { type RedisServer, startRedis } from "./redis-server.js";

// One real redis-server for the file; each test gets its own key prefix.
let redis: Promise<RedisServer> | undefined;
let prefixes = 0;
afterAll(async () => {
  await (await redis)?.dispose();
});

const factories: Array<[string, () => Promise<{ store: TokenStore; dispose: () => Promise<void> }>]> = [
  ["MemoryTokenStore", async () => ({ store: new MemoryTokenStore(), dispose: async () => {} })],
  [
    "FileTokenStore",
    async () => {
      const dir = await tempDir();
      return { store: new FileTokenStore({ dir: `${dir}/tokens`, onWarning: () => {} }), dispose: () => cleanup(dir) };
    },
  ],
  [
    "RedisTokenStore",
    async () => {
      redis ??= startRedis();
      const server = await redis;
      const store = new RedisTokenStore({ url: server.url, prefix: `contract${++prefixes}:`, onWarning: () => {} });
      return { store, dispose: async () => {} };
    },
  ],
];

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(HpauthError);
    return (e as HpauthError).code;
  }
}

/** Takes the lock on `key` and holds it until `release()`; `held` resolves once fn is running. */
function hold(store: TokenStore, key: string, onRelease?: () => void) {
  let release!: () => void;
  let started!: () => void;
  const held = new Promise<void>((r) => (started = r));
  const done = store.withLock(key, async () => {
    started();
    await new Promise<void>((r) => (release = r));
    onRelease?.();
  });
  return { held, done, release: () => release() };
}

describe.each(factories)("%s", (_name, factory) => {
  let store: TokenStore;
  let dispose: () => Promise<void>;
  beforeEach(async () => {
    ({ store, dispose } = await factory());
  });
  afterEach(async () => {
    await store.close?.();
    await dispose();
  });

  it("returns undefined for a key never written", async () => {
    expect(await store.get("nope")).toBeUndefined();
    expect(await store.list()).toEqual([]);
  });

  it("round-trips a record, overwrites it, deletes it", async () => {
    const r = record({
      scope: "a b",
      meta: { cc_id: "x", nested: { n: 1 } },
      lastError: { code: "X", message: "m", at: 1 },
    });
    await store.set("p1", r);
    expect(await store.get("p1")).toEqual(r);
    const r2 = record({ accessToken: "second", updatedAt: 2 });
    await store.set("p1", r2);
    expect(await store.get("p1")).toEqual(r2);
    await store.delete("p1");
    expect(await store.get("p1")).toBeUndefined();
    await store.delete("p1"); // deleting what is absent is not an error
  });

  it("keeps arbitrary keys apart and lists the original keys", async () => {
    const keys = [
      "profile:default",
      "Profile:Default",
      "profile_default",
      "../../etc/passwd",
      "a/b\\c:d*e?f",
      "ünïcødé ☃",
      "x".repeat(600),
      ".hidden",
      "aruba-login-budget:client-1",
    ];
    for (const [i, k] of keys.entries()) await store.set(k, record({ updatedAt: i }));
    for (const [i, k] of keys.entries()) expect((await store.get(k))?.updatedAt).toBe(i);
    expect((await store.list()).sort()).toEqual([...keys].sort());
  });

  it("isolates stored records from the caller's objects", async () => {
    const r = record({ meta: { a: 1 } });
    await store.set("k", r);
    r.accessToken = "mutated-after-set";
    (r.meta as Record<string, unknown>).a = 2;
    const got = (await store.get("k"))!;
    expect(got.accessToken).toBe("at-not-a-real-token");
    expect(got.meta).toEqual({ a: 1 });
    got.accessToken = "mutated-after-get";
    expect((await store.get("k"))!.accessToken).toBe("at-not-a-real-token");
    expect(await store.get("k")).not.toBe(await store.get("k"));
  });

  it("serialises read-modify-write across async callers on one key", async () => {
    await store.set("counter", record({ meta: { n: 0 } }));
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        store.withLock("counter", async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          const r = (await store.get("counter"))!;
          await sleep(i % 3); // yield so an unserialised store would interleave
          await store.set("counter", { ...r, meta: { n: (r.meta!.n as number) + 1 } });
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(1);
    expect((await store.get("counter"))!.meta).toEqual({ n: 25 });
  });

  it("does not block other keys, and releases the lock when fn throws", async () => {
    const a = hold(store, "a");
    await a.held;
    expect(await store.withLock("b", async () => "b-ran", { timeoutMs: 2000 })).toBe("b-ran");
    a.release();
    await a.done;
    await expect(
      store.withLock("a", async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await store.withLock("a", async () => 42, { timeoutMs: 2000 })).toBe(42);
  });

  it("times out with LOCK_TIMEOUT while another caller holds the lock, then recovers", async () => {
    const holder = hold(store, "k");
    await holder.held;
    const started = Date.now();
    expect(await codeOf(store.withLock("k", async () => "never", { timeoutMs: 150 }))).toBe("LOCK_TIMEOUT");
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(Date.now() - started).toBeLessThan(3000);
    holder.release();
    await holder.done;
    expect(await store.withLock("k", async () => "after", { timeoutMs: 2000 })).toBe("after");
  });

  it("cancels a waiter on abort (and on an already-aborted signal) without disturbing the queue", async () => {
    const order: string[] = [];
    const holder = hold(store, "k", () => order.push("holder"));
    await holder.held;
    const ac = new AbortController();
    const waiting = codeOf(store.withLock("k", async () => order.push("aborted-one"), { signal: ac.signal }));
    const next = store.withLock("k", async () => order.push("next"), { timeoutMs: 5000 });
    setTimeout(() => ac.abort(), 30);
    expect(await waiting).toBe("CANCELLED");
    expect(await codeOf(store.withLock("free", async () => 1, { signal: AbortSignal.abort() }))).toBe("CANCELLED");
    holder.release();
    await holder.done;
    await next;
    expect(order).toEqual(["holder", "next"]);
  });
});
