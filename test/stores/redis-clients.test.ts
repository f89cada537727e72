/**
 * The Redis store's two connections (commands, and one subscriber for every lock channel), seen from Redis: the
 * database of the URL, a connection that outlives the connect timeout and reconnects after an outage however late
 * it comes, a first connection that fails without warnings (the error is the answer), one subscriber for several
 * keys that is unsubscribed from each, and close() disconnecting both.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { RedisTokenStore, type RedisTokenStoreOptions } from "../../src/stores/redis.js";
import { record } from "./helpers.js";
import { type RedisServer, redisCli, startRedis } from "./redis-server.js";

async function failure(p: Promise<unknown>): Promise<HpauthError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HpauthError);
    return e as HpauthError;
  }
  throw new Error("expected a failure");
}

async function until(pred: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("condition not reached");
    await sleep(20);
  }
}

async function withServer(fn: (srv: RedisServer) => Promise<void>, args?: string[]): Promise<void> {
  const srv = await startRedis(args ? { args } : {});
  try {
    await fn(srv);
  } finally {
    await srv.dispose();
  }
}

function opener(srv: RedisServer) {
  const opened: RedisTokenStore[] = [];
  const open = (extra: Partial<RedisTokenStoreOptions> = {}, warnings: string[] = []) => {
    const s = new RedisTokenStore({ url: srv.url, onWarning: (m) => warnings.push(m), ...extra });
    opened.push(s);
    return s;
  };
  return { open, closeAll: () => Promise.all(opened.map((s) => s.close())) };
}

/** Clients connected to the server, ours (redis-cli) excluded. */
function clients(srv: RedisServer): number {
  return Number(/connected_clients:(\d+)/.exec(redisCli(srv, ["INFO", "clients"]))?.[1]) - 1;
}

function hold(store: RedisTokenStore, key: string) {
  let release!: () => void;
  let held!: () => void;
  const isHeld = new Promise<void>((r) => (held = r));
  const done = store.withLock(key, async () => {
    held();
    await new Promise<void>((r) => (release = r));
  });
  return { isHeld, done, release: () => release() };
}

describe("the connections", () => {
  it("the URL's database is the one used: the same key in /1 and /2 are two records", () =>
    withServer(async (srv) => {
      const { open, closeAll } = opener(srv);
      const one = open({ url: `${srv.url}/1` });
      const two = open({ url: `${srv.url}/2` });
      await one.set("k", record({ accessToken: "in-db-1" }));
      expect(await two.get("k")).toBeUndefined();
      await two.set("k", record({ accessToken: "in-db-2" }));
      expect((await one.get("k"))?.accessToken).toBe("in-db-1");
      expect(redisCli(srv, ["-n", "1", "EXISTS", "hpauth:token:k"]).trim()).toBe("1");
      expect(redisCli(srv, ["-n", "0", "EXISTS", "hpauth:token:k"]).trim()).toBe("0");
      await closeAll();
    }));

  it("once connected, the connection outlives the connect timeout and reconnects after a late outage", () =>
    withServer(
      async (srv) => {
        const { open, closeAll } = opener(srv);
        const s = open({ connectTimeoutMs: 300, commitRetryMs: 15_000 });
        await s.set("k", record({ accessToken: "first" }));
        await sleep(1200); // well past connectTimeoutMs (+ 500 ms for a first connection that never comes)
        expect((await s.get("k"))?.accessToken).toBe("first");
        await srv.stop();
        setTimeout(() => void srv.start(), 300);
        await s.set("k", record({ accessToken: "after-outage" }));
        expect((await s.get("k"))?.accessToken).toBe("after-outage");
        await closeAll();
      },
      ["--appendonly", "yes", "--appendfsync", "always"],
    ));

  it("a first connection that fails warns nothing: the error is the answer", () =>
    withServer(async (srv) => {
      await srv.stop();
      const { open, closeAll } = opener(srv);
      const warnings: string[] = [];
      const s = open({ connectTimeoutMs: 400 }, warnings);
      expect((await failure(s.get("k"))).code).toBe("STORE_ERROR");
      await sleep(300);
      expect(warnings).toEqual([]);
      await closeAll();
    }));

  it("one subscriber for all keys, unsubscribed from each; Redis going away under it is no crash, nor a hung close()", () =>
    withServer(async (srv) => {
      const { open, closeAll } = opener(srv);
      const prefix = `cl${randomBytes(3).toString("hex")}:`;
      const holder = open({ prefix, lockTtlMs: 60_000 });
      const warnings: string[] = [];
      const waiter = open({ prefix, lockTtlMs: 60_000, pollMs: 60_000, commitRetryMs: 200 }, warnings);
      const numsub = (key: string) =>
        Number(redisCli(srv, ["PUBSUB", "NUMSUB", `${prefix}unlock:${key}`]).split("\n")[1]);
      const a = hold(holder, "a");
      const b = hold(holder, "b");
      await Promise.all([a.isHeld, b.isHeld]);
      const base = clients(srv);
      const wa = waiter.withLock("a", async () => "a", { timeoutMs: 20_000 });
      const wb = waiter.withLock("b", async () => "b", { timeoutMs: 20_000 });
      await until(() => numsub("a") === 1 && numsub("b") === 1);
      expect(clients(srv) - base).toBe(2); // the waiter's command connection and its one subscriber
      a.release();
      b.release();
      expect(await Promise.all([wa, wb, a.done, b.done])).toEqual(["a", "b", undefined, undefined]);
      await until(() => numsub("a") === 0 && numsub("b") === 0);
      // Subscribed again, then Redis stops: the waiter fails with STORE_ERROR, nothing is thrown elsewhere.
      const c = hold(holder, "c");
      await c.isHeld;
      const wc = failure(waiter.withLock("c", async () => "c", { timeoutMs: 1500 }));
      await until(() => numsub("c") === 1);
      await srv.stop();
      await sleep(300); // the subscriber sees the connection drop and tries to reconnect, in vain
      expect((await wc).code).toMatch(/STORE_ERROR|LOCK_TIMEOUT/);
      c.release();
      await c.done.catch(() => undefined);
      // Closing while Redis is away does not wait for it (a CLI exiting during an outage).
      const closing = Date.now();
      await closeAll();
      expect(Date.now() - closing).toBeLessThan(10_000);
    }));

  it("close() disconnects both connections; a key that is not a string is refused", () =>
    withServer(async (srv) => {
      const { open } = opener(srv);
      const base = clients(srv);
      const holder = open({ lockTtlMs: 60_000 });
      const waiter = open({ pollMs: 60_000 });
      const h = hold(holder, "k");
      await h.isHeld;
      const w = waiter.withLock("k", async () => "w", { timeoutMs: 20_000 });
      await until(() => clients(srv) - base === 3);
      h.release();
      expect(await w).toBe("w");
      await h.done;
      await waiter.close();
      await holder.close();
      await until(() => clients(srv) === base);
      const bad = await failure(open().get(42 as unknown as string));
      expect(bad.code).toBe("USAGE");
    }));
});
