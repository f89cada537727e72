/**
 * A lock holder's life in the Redis store, against one real redis-server: the fence follows the holder's own reads
 * and writes (so a sequence of its own writes is never a conflict, and an absent record is fenced as absent); a
 * waiter sleeps — woken by the release, a lease running out or its poll — instead of spinning (counted in Redis's
 * own command statistics); a waiter in another process can be cancelled while it waits in Redis; and the lease
 * survives a Redis outage shorter than itself.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { RedisTokenStore } from "../../src/stores/redis.js";
import { record } from "./helpers.js";
import { failure, sharedRedis, until } from "./redis-fixture.js";
import { redisCli, startRedis } from "./redis-server.js";

const redis = sharedRedis("hld");
const { fresh, open, cli } = redis;

/** Commands Redis has processed so far (each INFO call counts one). */
function commands(): number {
  return Number(/total_commands_processed:(\d+)/.exec(cli("INFO", "stats"))?.[1]);
}

function access(s: RedisTokenStore, key = "k"): Promise<string | undefined> {
  return s.get(key).then((r) => r?.accessToken);
}

describe("the fence follows the holder", () => {
  it("its own writes and deletes in sequence are never a conflict", async () => {
    const prefix = fresh();
    const s = open({ prefix });
    await s.set("k", record({ accessToken: "x" }));
    await s.withLock("k", async () => {
      await s.set("k", record({ accessToken: "1" }));
      await s.set("k", record({ accessToken: "2" }));
      await s.delete("k");
      await s.set("k", record({ accessToken: "3" }));
      await s.delete("k");
      await s.delete("k");
      await s.set("k", record({ accessToken: "4" }));
    });
    expect(await access(s)).toBe("4");
  });

  it("a record read as absent under the lock, then written by another, is not overwritten", async () => {
    const prefix = fresh();
    const s = open({ prefix });
    const other = open({ prefix });
    const err = await failure(
      s.withLock("k", async () => {
        expect(await s.get("k")).toBeUndefined();
        await other.set("k", record({ accessToken: "theirs" }));
        await s.set("k", record({ accessToken: "mine" }));
      }),
    );
    expect(err.message).toMatch(/written by another holder/);
    expect(await access(s)).toBe("theirs");
  });

  it("list without the SCAN permission says what was refused", async () => {
    const user = `noscan${randomBytes(3).toString("hex")}`;
    cli("ACL", "SETUSER", user, "on", ">noscan-pw", "~*", "&*", "+@all", "-scan");
    const s = open({
      url: `redis://${user}@127.0.0.1:${redis.server.port}/0`,
      password: "noscan-pw",
      prefix: "team-b:",
    });
    const e = await failure(s.list());
    expect(e.message).toMatch(/^Redis at redis:\/\/noscan\w+@127\.0\.0\.1:\d+\/0 refused to list keys: NOPERM/);
    expect(e.hint).toMatch(/team-b:\*/);
  });
});

describe("waiting without spinning", () => {
  it("a waiter sleeps until the release; one woken but beaten to the lock goes back to sleep", async () => {
    const prefix = fresh();
    const holder = open({ prefix, lockTtlMs: 60_000 });
    const w1 = open({ prefix, lockTtlMs: 60_000, pollMs: 60_000 });
    const w2 = open({ prefix, lockTtlMs: 60_000, pollMs: 60_000 });
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
    let winnerIn!: () => void;
    const winnerStarted = new Promise<void>((r) => (winnerIn = r));
    let winnerGo!: () => void;
    const winnerMayLeave = new Promise<void>((r) => (winnerGo = r));
    const order: string[] = [];
    const turn = (name: string) => async () => {
      order.push(name);
      if (order.length === 1) {
        winnerIn();
        await winnerMayLeave;
      }
    };
    const waiting = [
      w1.withLock("k", turn("w1"), { timeoutMs: 25_000 }),
      w2.withLock("k", turn("w2"), { timeoutMs: 25_000 }),
    ];
    await until(() => numsub() === 2);
    // Both asleep: over half a second Redis sees the holder's renewal at most, and our own INFO calls.
    let before = commands();
    await sleep(500);
    expect(commands() - before).toBeLessThan(15);
    release();
    await h;
    await winnerStarted;
    // The loser was woken too, tried once, lost, and sleeps again.
    await sleep(100);
    before = commands();
    await sleep(500);
    expect(commands() - before).toBeLessThan(15);
    winnerGo();
    await Promise.all(waiting);
    expect(order.sort()).toEqual(["w1", "w2"]);
  });
});

describe("cancelling a waiter in Redis", () => {
  it("an abort while waiting on another process's lock: CANCELLED at once, unsubscribed, the lock usable", async () => {
    const prefix = fresh();
    const holder = open({ prefix, lockTtlMs: 60_000 });
    const waiter = open({ prefix, pollMs: 60_000 });
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
    const ac = new AbortController();
    let ran = false;
    const w = failure(
      waiter.withLock(
        "k",
        async () => {
          ran = true;
        },
        { signal: ac.signal, timeoutMs: 25_000 },
      ),
    );
    await until(() => numsub() === 1);
    await sleep(50);
    const started = Date.now();
    ac.abort();
    const e = await w;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(e.code).toBe("CANCELLED");
    expect(e.message).toBe("Cancelled while waiting for the token lock.");
    expect(ran).toBe(false);
    await until(() => numsub() === 0);
    release();
    await h;
    expect(await waiter.withLock("k", async () => "next", { timeoutMs: 5000 })).toBe("next");
    // An already-aborted signal: refused before anything is taken.
    const again = await failure(waiter.withLock("k", async () => "never", { signal: AbortSignal.abort() }));
    expect(again.code).toBe("CANCELLED");
    expect(cli("EXISTS", `${prefix}lock:k`)).toBe("0");
  });
});

describe("the lease through a Redis outage", () => {
  it("an outage shorter than the lease since the last renewal is not a lost lock", async () => {
    const srv = await startRedis();
    try {
      const ttl = 1500;
      const lost: number[] = [];
      const s = new RedisTokenStore({
        url: srv.url,
        lockTtlMs: ttl,
        commitRetryMs: 100,
        onWarning: (m) => {
          if (m.includes("was lost while held")) lost.push(Date.now());
        },
      });
      redis.track(s);
      const pttl = () => Number(redisCli(srv, ["PTTL", "hpauth:lock:k"]).trim());
      let stoppedAt = 0;
      await s.withLock("k", async () => {
        const acquired = Date.now();
        // Held longer than one lease, and just renewed: the lease is ours for another ~1.5 s.
        await until(() => Date.now() - acquired > ttl + 100 && pttl() > ttl - 60, 20_000);
        stoppedAt = Date.now();
        await srv.stop();
        await until(() => lost.length > 0);
      });
      expect(lost).toHaveLength(1);
      expect(lost[0]! - stoppedAt).toBeGreaterThanOrEqual(ttl - 200);
    } finally {
      await srv.dispose();
    }
  });
});
