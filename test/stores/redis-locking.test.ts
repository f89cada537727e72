/**
 * The Redis store's lock and its fence, against one real redis-server, without stalling the process: the other
 * holder's moves are made directly in Redis (a lock key replaced or deleted, a record written from outside), which
 * is what a paused holder sees after its lease ran out. Promises: a holder's writes are compare-and-set on the
 * generation it last saw; a lost lease is reported once and named in the refusal; the lease is renewed while held;
 * release deletes only its own lock and wakes waiters over P unlock:<key>; one subscription per key per process.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { RedisTokenStore } from "../../src/stores/redis.js";
import { record } from "./helpers.js";
import { failure, sharedRedis, until } from "./redis-fixture.js";

const redis = sharedRedis("lck");
const { fresh, open, cli } = redis;

function access(s: RedisTokenStore, key = "k"): Promise<string | undefined> {
  return s.get(key).then((r) => r?.accessToken);
}

describe("fencing", () => {
  it("the lock brings the record's generation: a holder that never read is still fenced", async () => {
    const prefix = fresh();
    const s = open({ prefix });
    const other = open({ prefix });
    await s.set("k", record({ accessToken: "v1" }));
    const err = await failure(
      s.withLock("k", async () => {
        await other.set("k", record({ accessToken: "v2-other" })); // outside any lock: unconditional
        await s.set("k", record({ accessToken: "v2-stale" }));
      }),
    );
    expect(err.code).toBe("STORE_ERROR");
    expect(err.message).toBe(
      `The record of "k" in ${s.location} was written by another holder since this one read it (its lease of 15000 ms ran out); not overwriting the newer record.`,
    );
    expect(err.hint).toBe("Nothing to do: the newer record is kept; retry to use it.");
    expect(await access(s)).toBe("v2-other");
  });

  it("the fence is the record as last read: a holder that read the newer record may write over it", async () => {
    const prefix = fresh();
    const s = open({ prefix });
    const other = open({ prefix });
    await s.set("k", record({ accessToken: "v1" }));
    await s.withLock("k", async () => {
      await other.set("k", record({ accessToken: "v2-other" }));
      expect(await access(s)).toBe("v2-other");
      await s.set("k", record({ accessToken: "v3-mine" }));
    });
    expect(await access(other)).toBe("v3-mine");
    // A record absent when the lock was taken: written by someone else meanwhile, it is not overwritten.
    const err = await failure(
      s.withLock("new", async () => {
        await other.set("new", record({ accessToken: "theirs" }));
        await s.set("new", record({ accessToken: "mine" }));
      }),
    );
    expect(err.message).toMatch(/written by another holder/);
    expect(await access(s, "new")).toBe("theirs");
  });

  it("a delete under the lock is fenced too", async () => {
    const prefix = fresh();
    const s = open({ prefix });
    const other = open({ prefix });
    await s.set("k", record({ accessToken: "v1" }));
    const err = await failure(
      s.withLock("k", async () => {
        await s.get("k");
        await other.set("k", record({ accessToken: "v2-other" }));
        await s.delete("k");
      }),
    );
    expect(err.code).toBe("STORE_ERROR");
    expect(err.message).toBe(
      'The record of "k" was rewritten by another holder since this one read it; not deleting the newer record.',
    );
    expect(err.hint).toBe("Retry the command.");
    expect(await access(s)).toBe("v2-other");
    // Deleted under the lock, then written by another: the holder's next write is refused.
    const err2 = await failure(
      s.withLock("k", async () => {
        await s.delete("k");
        await other.set("k", record({ accessToken: "v3-other" }));
        await s.set("k", record({ accessToken: "v3-stale" }));
      }),
    );
    expect(err2.message).toMatch(/written by another holder/);
    expect(await access(s)).toBe("v3-other");
  });

  it("ifCurrent sees the newer record; refused unless it says yes, then saved with a warning", async () => {
    const prefix = fresh();
    const warnings: string[] = [];
    const s = open({ prefix }, warnings);
    const other = open({ prefix });
    await s.set("k", record({ accessToken: "v1", refreshToken: "rt1" }));
    const seen: Array<string | undefined> = [];
    const err = await failure(
      s.withLock("k", async () => {
        await other.set("k", record({ accessToken: "v2", refreshToken: "rt2" }));
        await s.set("k", record({ accessToken: "mine" }), {
          ifCurrent: (cur) => {
            seen.push(cur?.refreshToken);
            return false;
          },
        });
      }),
    );
    expect(err.message).toMatch(/not overwriting the newer record/);
    expect(seen).toEqual(["rt2"]);
    expect(warnings).toEqual([]);
    await s.withLock("k", async () => {
      await other.set("k", record({ accessToken: "v3", refreshToken: "rt2" }));
      await s.set("k", record({ accessToken: "mine", refreshToken: "rt3" }), {
        ifCurrent: (cur) => cur?.refreshToken === "rt2",
      });
    });
    expect(await access(s)).toBe("mine");
    expect(warnings).toEqual([
      'The record of "k" changed since it was read under the lock, but may be replaced: saving.',
    ]);
    // Deleted meanwhile: ifCurrent is asked about "no record".
    const asked: unknown[] = [];
    await s.withLock("k", async () => {
      await other.delete("k");
      await s.set("k", record({ accessToken: "after-delete" }), {
        ifCurrent: (cur) => {
          asked.push(cur);
          return true;
        },
      });
    });
    expect(asked).toEqual([undefined]);
    expect(await access(s)).toBe("after-delete");
  });

  it("a record that keeps changing under ifCurrent is given up after three tries", async () => {
    const prefix = fresh();
    const s = open({ prefix });
    await s.set("k", record({ accessToken: "v1" }));
    let asked = 0;
    const err = await failure(
      s.withLock("k", async () => {
        await s.get("k");
        // Another writer moves the generation each time, between our look and our write.
        cli("HSET", `${prefix}token:k`, "gen", String(++asked));
        await s.set("k", record({ accessToken: "mine" }), {
          ifCurrent: () => {
            cli("HSET", `${prefix}token:k`, "gen", String(1000 + ++asked));
            return true;
          },
        });
      }),
    );
    expect(err.message).toMatch(/not overwriting the newer record/);
    expect(asked).toBe(4); // the first move, then three tries
    expect(await access(s)).toBe("v1");
  });

  it("nested locks on two keys fence both; a write after the lock returned is unfenced", async () => {
    const prefix = fresh();
    const s = open({ prefix });
    const other = open({ prefix });
    await s.set("a", record({ accessToken: "a1" }));
    const err = await failure(
      s.withLock("a", () =>
        s.withLock("b", async () => {
          await other.set("a", record({ accessToken: "a2-other" }));
          await s.set("a", record({ accessToken: "a2-stale" }));
        }),
      ),
    );
    expect(err.message).toMatch(/written by another holder/);
    expect(await access(s, "a")).toBe("a2-other");
    // Work started under the lock that finishes after it is no holder's any more: like any write outside a lock.
    let later!: Promise<void>;
    let go!: () => void;
    const gate = new Promise<void>((r) => (go = r));
    await s.withLock("a", async () => {
      await s.get("a");
      later = gate.then(() => s.set("a", record({ accessToken: "a3-late" })));
    });
    await other.set("a", record({ accessToken: "a3-other" }));
    go();
    await later;
    expect(await access(s, "a")).toBe("a3-late");
  });
});

describe("the lease", () => {
  it("is renewed while held: a long holder keeps the lock past its lease", async () => {
    const prefix = fresh();
    const s = open({ prefix, lockTtlMs: 300 });
    const waiter = open({ prefix, lockTtlMs: 300, pollMs: 10 });
    const warnings: string[] = [];
    const watcher = open({ prefix, lockTtlMs: 300, pollMs: 10 }, warnings);
    const out = await s.withLock("k", async () => {
      await sleep(1200); // four leases
      const code = await failure(waiter.withLock("k", async () => "got it", { timeoutMs: 100 })).then((e) => e.code);
      return { code, pttl: Number(cli("PTTL", `${prefix}lock:k`)) };
    });
    expect(out.code).toBe("LOCK_TIMEOUT");
    expect(out.pttl).toBeGreaterThan(0);
    expect(out.pttl).toBeLessThanOrEqual(300);
    expect(await watcher.withLock("k", async () => "free", { timeoutMs: 2000 })).toBe("free");
    expect(warnings).toEqual([]);
  });

  it("a lease lost while held is reported once, and its refusal says why", async () => {
    const prefix = fresh();
    const warnings: string[] = [];
    const s = open({ prefix, lockTtlMs: 300 }, warnings);
    const other = open({ prefix });
    await s.set("k", record({ accessToken: "v1" }));
    const err = await failure(
      s.withLock("k", async () => {
        await s.get("k");
        cli("SET", `${prefix}lock:k`, "successor-token", "PX", "60000"); // expired, and taken by another
        await until(() => warnings.length > 0);
        await sleep(400); // several renewal periods: no second warning
        await other.set("k", record({ accessToken: "v2-successor" }));
        await s.set("k", record({ accessToken: "v2-stale" }));
      }),
    );
    expect(warnings).toEqual([
      'The lock on "k" was lost while held (the lease expired and another process took the lock); writes under it are fenced by the record\'s generation.',
    ]);
    expect(err.message).toBe(
      `The record of "k" in ${s.location} was written by another holder since this one read it (its lease of 300 ms ran out: the lease expired and another process took the lock); not overwriting the newer record.`,
    );
    // Release is compare-and-delete: the successor's lock stays.
    expect(cli("GET", `${prefix}lock:k`)).toBe("successor-token");
    expect(await access(s)).toBe("v2-successor");
  });

  it("waiting for a lock says how long, for which key, and when a crashed holder's lease runs out", async () => {
    const prefix = fresh();
    cli("SET", `${prefix}lock:k`, "someone-else", "PX", "60000");
    const s = open({ prefix });
    const started = Date.now();
    const err = await failure(s.withLock("k", async () => "never", { timeoutMs: 200 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(err.code).toBe("LOCK_TIMEOUT");
    expect(err.message).toBe('Timed out after 200 ms waiting for the lock on "k" in Redis.');
    expect(err.hint).toBe(
      "Another hpauth process (on any host sharing this Redis) is refreshing or logging in for this credential; wait for it or raise the lock timeout (a crashed holder's lease runs out after 15 s).",
    );
    // The store's own default wait applies when the caller gives none.
    const short = open({ prefix, lockTimeoutMs: 150 });
    expect((await failure(short.withLock("k", async () => "never"))).message).toMatch(/after 150 ms/);
    cli("DEL", `${prefix}lock:k`);
  });

  it("a lock without an expiry (not ours, set by hand) is polled, not waited on forever", async () => {
    const prefix = fresh();
    cli("SET", `${prefix}lock:k`, "by-hand");
    const s = open({ prefix, pollMs: 60_000 });
    const got = s.withLock("k", async () => "got it", { timeoutMs: 10_000 });
    await sleep(200);
    cli("SET", `${prefix}lock:k`, "by-hand", "PX", "100"); // now it can run out; no release is published
    expect(await got).toBe("got it");
  });
});

describe("waking waiters", () => {
  it("one subscription to P unlock:<key> per process, however many wait; none left afterwards", async () => {
    const prefix = fresh();
    const holder = open({ prefix, lockTtlMs: 60_000 });
    const waiters = open({ prefix, lockTtlMs: 60_000, pollMs: 60_000 });
    const channel = `${prefix}unlock:k`;
    const numsub = () => Number(cli("PUBSUB", "NUMSUB", channel).split("\n")[1]);
    let release!: () => void;
    let held!: () => void;
    const isHeld = new Promise<void>((r) => (held = r));
    const h = holder.withLock("k", async () => {
      held();
      await new Promise<void>((r) => (release = r));
    });
    await isHeld;
    const order: number[] = [];
    // Two callers in one process queue in process; a second key is a second channel.
    const w = [1, 2].map((i) => waiters.withLock("k", async () => void order.push(i)));
    await until(() => numsub() === 1);
    const started = Date.now();
    release();
    await h;
    await Promise.all(w);
    // Woken by the release (the poll is a minute away).
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(order).toEqual([1, 2]);
    await until(() => numsub() === 0);
    // Waiters in two processes (two stores) on one key: both subscribed, both woken by one release each.
    const other = open({ prefix, lockTtlMs: 60_000, pollMs: 60_000 });
    const h2 = holder.withLock("k", async () => {
      await until(() => numsub() === 2);
    });
    await sleep(50);
    const both = [waiters.withLock("k", async () => "w"), other.withLock("k", async () => "o")];
    await h2;
    expect(await Promise.all(both)).toEqual(["w", "o"]);
    await until(() => numsub() === 0);
  });

  it("a waiter that may not subscribe (an ACL without channels) still gets the lock by polling, and says so", async () => {
    const prefix = fresh();
    const user = `nosub${randomBytes(3).toString("hex")}`;
    cli("ACL", "SETUSER", user, "on", ">nosub-pw", "~*", "resetchannels", "+@all");
    const url = `redis://${user}@127.0.0.1:${redis.server.port}/0`;
    const holder = open({ prefix, lockTtlMs: 60_000 });
    const warnings: string[] = [];
    const waiter = open({ url, password: "nosub-pw", prefix, pollMs: 50 }, warnings);
    let release!: () => void;
    let held!: () => void;
    const isHeld = new Promise<void>((r) => (held = r));
    const h = holder.withLock("k", async () => {
      held();
      await new Promise<void>((r) => (release = r));
    });
    await isHeld;
    const w = waiter.withLock("k", async () => "polled", { timeoutMs: 10_000 });
    await until(() => warnings.length > 0);
    release();
    await h;
    expect(await w).toBe("polled");
    // Its own release cannot publish either: the lock is released all the same, without a false alarm.
    expect(cli("EXISTS", `${prefix}lock:k`)).toBe("0");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Cannot subscribe to lock releases \(NOPERM.*\); waiting by polling every 50 ms\.$/);
    // A holder without pub/sub releases, and its waiter (who can subscribe) still gets the lock.
    const next = waiter.withLock("k", async () => sleep(100));
    await sleep(20);
    expect(await holder.withLock("k", async () => "after", { timeoutMs: 10_000 })).toBe("after");
    await next;
    expect(warnings).toHaveLength(1);
  });
});
