/**
 * The set-up the focused Redis store tests share: one real redis-server per test file (started in beforeAll,
 * disposed with every store opened on it in afterAll), fresh key prefixes, and the two waits they all use.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { RedisTokenStore, type RedisTokenStoreOptions } from "../../src/stores/redis.js";
import { type RedisServer, redisCli, startRedis } from "./redis-server.js";

/** The HpauthError `p` rejects with (a test failure if it resolves or rejects with anything else). */
export async function failure(p: Promise<unknown>): Promise<HpauthError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HpauthError);
    return e as HpauthError;
  }
  throw new Error("expected a failure");
}

/** Waits (bounded) until `pred` holds; the tests never depend on how fast the machine is. */
export async function until(pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("condition not reached");
    await sleep(20);
  }
}

export interface SharedRedis {
  /** The file's server (set once beforeAll has run). */
  readonly server: RedisServer;
  /** A key prefix no other test uses: `<tag><8 hex>:`. */
  fresh(): string;
  /** A store on the server, closed in afterAll; warnings collected into `warnings`. */
  open(extra?: Partial<RedisTokenStoreOptions>, warnings?: string[]): RedisTokenStore;
  /** redis-cli against the server, its answer trimmed. */
  cli(...args: string[]): string;
  /** Closes in afterAll a store the test opened itself (e.g. on a server of its own). */
  track(store: RedisTokenStore): RedisTokenStore;
}

/** Registers the file's beforeAll/afterAll and returns its server and helpers. */
export function sharedRedis(tag: string): SharedRedis {
  let server: RedisServer | undefined;
  const stores: RedisTokenStore[] = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await server?.dispose();
  });
  const live = (): RedisServer => {
    if (!server) throw new Error("the Redis server is not started yet (used outside a test?)");
    return server;
  };
  return {
    get server() {
      return live();
    },
    fresh: () => `${tag}${randomBytes(4).toString("hex")}:`,
    open(extra = {}, warnings = []) {
      const s = new RedisTokenStore({ url: live().url, onWarning: (m) => warnings.push(m), ...extra });
      stores.push(s);
      return s;
    },
    cli: (...args) => redisCli(live(), args).trim(),
    track(store) {
      stores.push(store);
      return store;
    },
  };
}
