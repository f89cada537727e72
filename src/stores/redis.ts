/**
 * RedisTokenStore: the token store for fleets — every process on every host that points at one Redis shares one
 * record and one lock per credential. Imported only through `hpauth/redis` (and lazily by the CLI for a
 * `redis://` store), so nobody else loads a Redis client.
 *
 * Layout (P = prefix, default "hpauth:"):
 *   P token:<key>   hash {gen, doc}: doc is the JSON envelope {v, key, record} (or its AES-256-GCM ciphertext);
 *                   gen is the record's generation, set by the server in the same script that writes doc
 *   P lock:<key>    SET NX PX <ttl> <128-bit random>, renewed every ttl/3 while held, released by compare-and-delete
 *   P unlock:<key>  pub/sub channel, published on release so waiters on every host wake at once
 *
 * Fencing: a holder remembers the generation it last read under the lock; its writes are a Lua compare-and-set on
 * that generation. A holder paused past its lease (GC, SIGSTOP, a laptop lid) whose successor already wrote finds a
 * different generation and is refused (unless the caller's `ifCurrent` says the newer record is one it may replace);
 * it never overwrites a newer rotation. Generations are max(previous + 1, server time in µs), so a record deleted
 * and written again never repeats a generation an old holder may still hold (no ABA). Details: docs/stores.md.
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { createClient, type RedisClientType } from "redis";
import { HpauthError } from "../engine/errors.js";
import { DEFAULT_LOCK_TIMEOUT_MS, KeyedMutex } from "./mutex.js";
import { readRecord } from "./record.js";
import { parseRedisUrl, type RedisLocation } from "./redis-url.js";
import type { LockOptions, SetOptions, TokenRecord, TokenStore } from "./types.js";

export { parseRedisUrl, type RedisLocation, redactUrl } from "./redis-url.js";

export interface RedisTlsOptions {
  /** PEM CA certificate(s) to trust instead of the system's (a private CA). */
  ca?: string | Buffer;
  /** Client certificate and key (mutual TLS), PEM. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Name to check the server certificate against (default: the URL's host). */
  servername?: string;
}

export interface RedisTokenStoreOptions {
  /** `redis://[user@]host[:port][/db]` or `rediss://…` (TLS). A password in the URL is accepted here (library use) but `password` is preferred. */
  url: string;
  username?: string;
  password?: string;
  /** Key prefix, so one Redis serves several teams or environments (default "hpauth:"). */
  prefix?: string;
  tls?: RedisTlsOptions;
  /** Lease of a lock: a holder that stops renewing (crashed, paused) loses it after this long. Default 15 s. */
  lockTtlMs?: number;
  /** Default wait for a lock when the caller gives none (default 5 minutes: long enough for a browser login). */
  lockTimeoutMs?: number;
  /** Waiters are woken by pub/sub; as a safety net they also retry at least this often (default 1000 ms). */
  pollMs?: number;
  /** Give up connecting after this long (default 10 000 ms; a refused connection is retried until then). */
  connectTimeoutMs?: number;
  /**
   * How long a write keeps retrying while Redis is unreachable (failover, restart) before failing. It may carry the
   * only copy of a just-rotated refresh token, so it is patient (default 20 s).
   */
  commitRetryMs?: number;
  /** 32-byte key: records are then AES-256-GCM encrypted at rest. Base64 or hex string, or raw bytes. */
  encryptionKey?: string | Buffer;
  /** Non-fatal problems (reconnects, a lost lease). Messages name keys and hosts, never secrets. */
  onWarning?: (message: string) => void;
}

export const DEFAULT_REDIS_PREFIX = "hpauth:";
/**
 * The lease. A crashed holder delays the others by at most this; a live holder renews every second, so it loses the
 * lock only if its event loop is starved or stopped for ~14 s (a 64-process race on a loaded 2-core machine starved
 * some holders past a 10 s lease, which is why it is not shorter).
 */
export const DEFAULT_LOCK_TTL_MS = 15_000;
const RECORD_VERSION = 1;
const FORMAT = 1;

// ---- scripts (each touches one key, so they also run on a Cluster node owning it) -----------------------------

/** KEYS[1] lock, ARGV[1] token, ARGV[2] ttl → [1, gen-of-record] | [0, pttl]. KEYS[2] the record (for its gen). */
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('HGET', KEYS[2], 'gen') or '0'}
end
return {0, redis.call('PTTL', KEYS[1])}`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/**
 * Compare-and-delete, then wake the waiters. PUBLISH by pcall: a user whose ACL has no pub/sub has released all the
 * same (a script's writes are kept when it fails later), and waiters fall back to their poll.
 */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.pcall('PUBLISH', ARGV[2], '1')
  return 1
end
return 0`;

/** KEYS[1] record, ARGV[1] expected gen ('' = unconditional), ARGV[2] doc → [1, new gen] | [0, current gen]. */
const CAS_SET = `
local cur = redis.call('HGET', KEYS[1], 'gen') or '0'
if ARGV[1] ~= '' and cur ~= ARGV[1] then return {0, cur} end
local t = redis.call('TIME')
local nxt = math.max(tonumber(cur) + 1, tonumber(t[1]) * 1000000 + tonumber(t[2]))
local g = string.format('%.0f', nxt)
redis.call('HSET', KEYS[1], 'gen', g, 'doc', ARGV[2])
return {1, g}`;

const CAS_DEL = `
local cur = redis.call('HGET', KEYS[1], 'gen') or '0'
if ARGV[1] ~= '' and cur ~= ARGV[1] then return {0, cur} end
redis.call('DEL', KEYS[1])
return {1, '0'}`;

interface Holder {
  key: string;
  token: string;
  /** Generation of the record as last read (or written) by this holder; the fence for its writes. */
  gen: string;
  lost?: string;
  released?: boolean;
  renewedAt: number;
}

type Client = RedisClientType;

export class RedisTokenStore implements TokenStore {
  readonly kind = "redis";
  /** Where the records live, without the password: `redis://user@host:port/db prefix=hpauth:`. */
  readonly location: string;
  readonly prefix: string;
  readonly #loc: RedisLocation;
  readonly #opts: RedisTokenStoreOptions;
  readonly #mutex = new KeyedMutex();
  readonly #holders = new AsyncLocalStorage<ReadonlyMap<string, Holder>>();
  readonly #ttl: number;
  readonly #lockTimeoutMs: number;
  readonly #pollMs: number;
  readonly #connectTimeoutMs: number;
  readonly #commitRetryMs: number;
  readonly #encKey?: Buffer;
  readonly #warn: (message: string) => void;
  #client?: Client;
  #ready?: Promise<Client>;
  #sub?: Promise<Client>;
  readonly #waiters = new Map<string, Set<() => void>>();
  #closed = false;
  #lastErrorWarned = 0;

  constructor(options: RedisTokenStoreOptions) {
    if (!options?.url) throw new HpauthError("USAGE", "RedisTokenStore needs a url (redis://host:port/db).");
    const parsed = parseRedisUrl(options.url);
    this.#loc = parsed;
    this.#opts = options;
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.location = `${parsed.display} prefix=${this.prefix}`;
    this.#ttl = Math.max(options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS, 300);
    this.#lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    this.#pollMs = Math.max(options.pollMs ?? 1000, 10);
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#commitRetryMs = options.commitRetryMs ?? 20_000;
    if (options.encryptionKey !== undefined) this.#encKey = parseKey(options.encryptionKey);
    this.#warn = options.onWarning ?? ((m) => process.emitWarning(m, { code: "HPAUTH_STORE" }));
  }

  // ---- records ----------------------------------------------------------------------------------------------

  async get(key: string): Promise<TokenRecord | undefined> {
    const k = this.#recordKey(key);
    const c = await this.#connect();
    const [gen, doc] = (await this.#cmd(`read "${key}"`, () => c.hmGet(k, ["gen", "doc"]))) as Array<string | null>;
    const holder = this.#holder(key);
    if (holder) holder.gen = gen ?? "0";
    if (doc === null || doc === undefined) return undefined;
    // Field by field, as every store reads (stores/record.ts): a damaged field is dropped with a warning, a damaged
    // refresh token is a STORE_ERROR, never a crash further on.
    return readRecord(this.#decode(key, doc), {
      where: `The record of "${key}" in ${this.location}`,
      warn: this.#warn,
    });
  }

  async set(key: string, record: TokenRecord, options: SetOptions = {}): Promise<void> {
    const k = this.#recordKey(key);
    const doc = this.#encode(key, record);
    const holder = this.#holder(key);
    let expected = holder ? holder.gen : "";
    for (let attempt = 0; ; attempt++) {
      const [ok, gen] = await this.#commit(key, CAS_SET, k, expected, doc);
      if (ok === 1) {
        if (holder) holder.gen = String(gen);
        return;
      }
      // Someone else wrote since this holder read: its lease expired (it was paused) and a successor moved on.
      const current = await this.#peek(key);
      if (attempt < 3 && options.ifCurrent?.(current.record)) {
        this.#warn(`The record of "${key}" changed since it was read under the lock, but may be replaced: saving.`);
        expected = current.gen;
        continue;
      }
      throw new HpauthError(
        "STORE_ERROR",
        `The record of "${key}" in ${this.location} was written by another holder since this one read it (its lease of ${this.#ttl} ms ran out${holder?.lost ? `: ${holder.lost}` : ""}); not overwriting the newer record.`,
        { hint: "Nothing to do: the newer record is kept; retry to use it." },
      );
    }
  }

  async delete(key: string): Promise<void> {
    const holder = this.#holder(key);
    const [ok] = await this.#commit(key, CAS_DEL, this.#recordKey(key), holder ? holder.gen : "", "");
    if (ok !== 1) {
      throw new HpauthError(
        "STORE_ERROR",
        `The record of "${key}" was rewritten by another holder since this one read it; not deleting the newer record.`,
        { hint: "Retry the command." },
      );
    }
    if (holder) holder.gen = "0";
  }

  async list(): Promise<string[]> {
    const c = await this.#connect();
    const head = `${this.prefix}token:`;
    const keys: string[] = [];
    await this.#cmd("list keys", async () => {
      for await (const batch of c.scanIterator({ MATCH: `${globEscape(head)}*`, COUNT: 500 })) {
        for (const k of batch as unknown as string[]) keys.push(k.slice(head.length));
      }
    });
    return [...new Set(keys)].sort();
  }

  // ---- locking ----------------------------------------------------------------------------------------------

  withLock<T>(key: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#lockTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const { signal } = options;
    // In-process FIFO first: callers in this process never race each other at Redis.
    return this.#mutex.run(
      key,
      async () => {
        const holder = await this.#acquire(key, deadline, timeoutMs, signal);
        const renew = setInterval(
          () => void this.#renew(holder),
          Math.max(50, Math.min(1000, Math.floor(this.#ttl / 3))),
        );
        renew.unref?.();
        const held = new Map(this.#holders.getStore() ?? []);
        held.set(key, holder);
        try {
          return await this.#holders.run(held, fn);
        } finally {
          holder.released = true;
          clearInterval(renew);
          await this.#release(holder);
        }
      },
      { timeoutMs, ...(signal ? { signal } : {}) },
    );
  }

  async #acquire(key: string, deadline: number, timeoutMs: number, signal?: AbortSignal): Promise<Holder> {
    if (signal?.aborted) throw cancelled();
    const c = await this.#connect();
    const lockKey = this.#lockKey(key);
    const token = randomBytes(16).toString("hex");
    let wake: (() => void) | undefined;
    let woken = false;
    const onRelease = () => {
      woken = true;
      wake?.();
    };
    let subscribed = false;
    try {
      for (;;) {
        if (signal?.aborted) throw cancelled();
        const [won, value] = (await this.#cmd(`lock "${key}"`, () =>
          c.eval(ACQUIRE, { keys: [lockKey, this.#recordKey(key)], arguments: [token, String(this.#ttl)] }),
        )) as [number, string | number];
        if (won === 1) return { key, token, gen: String(value), renewedAt: Date.now() };
        // Subscribe before waiting, then try once more: a release between our attempt and the subscription would
        // otherwise go unheard until the next poll.
        if (!subscribed) {
          await this.#subscribe(key, onRelease);
          subscribed = true;
          continue;
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw lockTimeout(key, timeoutMs, this.#ttl);
        const pttl = Number(value);
        // Woken by pub/sub on release; otherwise the holder's lease running out (crash) or the safety poll.
        const wait = Math.min(remaining, pttl > 0 ? pttl + 5 : 20, this.#pollMs * (0.75 + Math.random() * 0.5));
        if (!woken) {
          await new Promise<void>((resolve, reject) => {
            const t = setTimeout(done, wait);
            function done() {
              clearTimeout(t);
              signal?.removeEventListener("abort", onAbort);
              wake = undefined;
              resolve();
            }
            const onAbort = () => {
              done();
              reject(cancelled());
            };
            wake = done;
            signal?.addEventListener("abort", onAbort, { once: true });
          });
        }
        woken = false;
      }
    } finally {
      if (subscribed) this.#unsubscribe(key, onRelease);
    }
  }

  async #renew(holder: Holder): Promise<void> {
    if (holder.released || holder.lost) return;
    try {
      const c = await this.#connect();
      const n = await c.eval(RENEW, {
        keys: [this.#lockKey(holder.key)],
        arguments: [holder.token, String(this.#ttl)],
      });
      if (Number(n) === 1) {
        holder.renewedAt = Date.now();
        return;
      }
      holder.lost = "the lease expired and another process took the lock";
    } catch {
      if (Date.now() - holder.renewedAt < this.#ttl) return; // Redis briefly away: the lease may still be ours
      holder.lost = "Redis was unreachable for longer than the lease";
    }
    if (holder.lost && !holder.released) {
      this.#warn(
        `The lock on "${holder.key}" was lost while held (${holder.lost}); writes under it are fenced by the record's generation.`,
      );
    }
  }

  async #release(holder: Holder): Promise<void> {
    try {
      const c = await this.#connect();
      await c.eval(RELEASE, {
        keys: [this.#lockKey(holder.key)],
        arguments: [holder.token, this.#channel(holder.key)],
      });
    } catch (e) {
      // Its lease runs out on its own; waiters' polls pick it up.
      this.#warn(`Releasing the lock on "${holder.key}" failed (${describe(e)}); it expires within ${this.#ttl} ms.`);
    }
  }

  async #subscribe(key: string, listener: () => void): Promise<void> {
    const channel = this.#channel(key);
    let set = this.#waiters.get(channel);
    if (!set) {
      set = new Set();
      this.#waiters.set(channel, set);
    }
    const first = set.size === 0;
    set.add(listener);
    if (!first) return;
    try {
      const sub = await this.#subscriber();
      await sub.subscribe(channel, () => {
        for (const l of this.#waiters.get(channel) ?? []) l();
      });
    } catch (e) {
      // Pub/sub refused (an ACL without &channels, a proxy without pub/sub): the poll still works, only slower.
      this.#warn(`Cannot subscribe to lock releases (${describe(e)}); waiting by polling every ${this.#pollMs} ms.`);
    }
  }

  #unsubscribe(key: string, listener: () => void): void {
    const channel = this.#channel(key);
    const set = this.#waiters.get(channel);
    if (!set) return;
    set.delete(listener);
    if (set.size > 0) return;
    this.#waiters.delete(channel);
    void this.#sub?.then((s) => s.unsubscribe(channel)).catch(() => undefined);
  }

  #subscriber(): Promise<Client> {
    this.#sub ??= this.#connect()
      .then(async (c) => {
        const s = c.duplicate() as Client;
        s.on("error", () => undefined);
        await withTimeout(s.connect(), this.#connectTimeoutMs);
        return s;
      })
      .catch((e) => {
        this.#sub = undefined;
        throw e;
      });
    return this.#sub;
  }

  // ---- plumbing ---------------------------------------------------------------------------------------------

  /** Holder of `key` in this async context, unless its withLock already returned (then writes are unfenced). */
  #holder(key: string): Holder | undefined {
    const h = this.#holders.getStore()?.get(key);
    return h && !h.released ? h : undefined;
  }

  async #peek(key: string): Promise<{ gen: string; record: TokenRecord | undefined }> {
    const c = await this.#connect();
    const [gen, doc] = (await this.#cmd(`read "${key}"`, () => c.hmGet(this.#recordKey(key), ["gen", "doc"]))) as Array<
      string | null
    >;
    return { gen: gen ?? "0", record: doc ? this.#decode(key, doc) : undefined };
  }

  /**
   * Runs a write script, retrying for `commitRetryMs` while Redis is unreachable (a restart, a failover): the
   * write may carry the only copy of a rotated refresh token. Script refusals are answers, not retried.
   */
  async #commit(key: string, script: string, k: string, expected: string, doc: string): Promise<[number, string]> {
    const started = Date.now();
    let backoff = 100;
    for (;;) {
      try {
        const c = await this.#connect();
        const r = (await c.eval(script, { keys: [k], arguments: [expected, doc] })) as [number, string];
        return [Number(r[0]), String(r[1])];
      } catch (e) {
        const elapsed = Date.now() - started;
        const cause = isHpauthError(e) ? e.cause : e;
        // A closed store is no outage to wait out.
        if (this.#closed || (isHpauthError(e) && (e.code !== "STORE_ERROR" || !transient(cause)))) throw e;
        if (!transient(cause) || elapsed >= this.#commitRetryMs) {
          throw this.#error(
            `save the record of "${key}"${elapsed >= this.#commitRetryMs ? ` (retried for ${Math.round(elapsed / 1000)} s)` : ""}`,
            cause,
          );
        }
        // Once per write, on its first retry (a first failure is often within the same millisecond: no offline queue).
        if (backoff === 100) this.#warn(`Redis at ${this.#loc.display} unreachable while saving "${key}"; retrying.`);
        await delay(Math.min(backoff, this.#commitRetryMs - elapsed + 10));
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }

  async #cmd<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof HpauthError) throw e;
      throw this.#error(what, e);
    }
  }

  #error(what: string, e: unknown): HpauthError {
    const msg = describe(e);
    if (/WRONGPASS|NOAUTH|invalid username-password/i.test(msg)) {
      return new HpauthError(
        "STORE_ERROR",
        `Redis at ${this.#loc.display} refused the credentials (${msg.split("\n")[0]}).`,
        {
          hint: "Set the password in HPAUTH_STORE_PASSWORD (or store_password_env / store_password_command in the config), and the user in the URL: redis://user@host:port/db.",
          cause: e,
        },
      );
    }
    if (/NOPERM/i.test(msg)) {
      return new HpauthError("STORE_ERROR", `Redis at ${this.#loc.display} refused to ${what}: ${msg}`, {
        hint: `Grant the ACL user the commands and the key/channel patterns ${this.prefix}* listed in docs/stores.md.`,
        cause: e,
      });
    }
    const action =
      what === "connect"
        ? `Cannot connect to Redis at ${this.#loc.display}`
        : `Cannot ${what} in Redis at ${this.#loc.display}`;
    return new HpauthError("STORE_ERROR", `${action}: ${msg}`, {
      hint: "Check that Redis is running and reachable (hpauth never falls back to another store: that would split the fleet's tokens and spend Aruba's login budget twice).",
      cause: e,
    });
  }

  #connect(): Promise<Client> {
    if (this.#closed) return Promise.reject(new HpauthError("STORE_ERROR", "The Redis token store is closed."));
    this.#ready ??= this.#open().catch((e) => {
      this.#ready = undefined;
      const c = this.#client;
      this.#client = undefined;
      try {
        c?.destroy();
      } catch {
        // never connected
      }
      throw e instanceof HpauthError ? e : this.#error("connect", e);
    });
    return this.#ready;
  }

  async #open(): Promise<Client> {
    const loc = this.#loc;
    const o = this.#opts;
    // The constructor has parsed the URL already (parseRedisUrl): it does not throw here.
    const inUrl = new URL(o.url).password;
    const password = o.password ?? (inUrl ? decodeURIComponent(inUrl) : undefined);
    const username = o.username ?? loc.username;
    let ready = false;
    let lastCause: Error | undefined;
    const started = Date.now();
    const socket = {
      host: loc.host,
      port: loc.port,
      connectTimeout: this.#connectTimeoutMs,
      // Once connected: keep reconnecting (failover, restart) with a capped backoff; commands meanwhile fail fast
      // (no offline queue) and writes retry on their own for commitRetryMs. The first connection: refused
      // credentials or certificates are final at once; a refused or reset connection is retried until
      // connectTimeoutMs (a Redis restarting), then reported with its cause.
      reconnectStrategy: (retries: number, cause: Error) => {
        if (!ready) {
          lastCause = cause;
          if (fatal(cause) || Date.now() - started >= this.#connectTimeoutMs) return cause;
        }
        return Math.min(50 * 2 ** retries, 1000);
      },
      ...(loc.tls
        ? {
            tls: true as const,
            ...(o.tls?.ca ? { ca: o.tls.ca } : {}),
            ...(o.tls?.cert ? { cert: o.tls.cert } : {}),
            ...(o.tls?.key ? { key: o.tls.key } : {}),
            servername: o.tls?.servername ?? loc.host,
          }
        : {}),
    };
    const client = createClient({
      socket,
      database: loc.db,
      disableOfflineQueue: true,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
    }) as unknown as Client;
    client.on("error", (e: unknown) => {
      const now = Date.now();
      // Before the first connection the error is the answer (thrown by connect), not a warning.
      if (ready && now - this.#lastErrorWarned > 5000 && this.#client === client && !this.#closed) {
        this.#lastErrorWarned = now;
        this.#warn(`Redis at ${loc.display}: ${describe(e)} (reconnecting)`);
      }
    });
    this.#client = client;
    // A first connection that never comes (a black-holed address) is an error with the last cause seen.
    try {
      await withTimeout(client.connect(), this.#connectTimeoutMs + 500, () => {
        try {
          client.destroy();
        } catch {
          // already gone
        }
      });
    } catch (e) {
      throw lastCause && !fatal(e as Error) ? lastCause : e;
    }
    ready = true;
    return client;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const subs = this.#sub;
    const main = this.#ready;
    this.#sub = undefined;
    this.#ready = undefined;
    for (const p of [subs, main]) {
      const c = await p?.catch(() => undefined);
      if (!c) continue;
      // A subscriber's close waits for Redis to answer: while Redis is away, that is never. Then it is destroyed.
      await withTimeout(c.close(), 1000).catch(() => {
        try {
          c.destroy();
        } catch {
          // gone
        }
      });
    }
  }

  #recordKey(key: string): string {
    checkKey(key);
    return `${this.prefix}token:${key}`;
  }

  #lockKey(key: string): string {
    checkKey(key);
    return `${this.prefix}lock:${key}`;
  }

  #channel(key: string): string {
    return `${this.prefix}unlock:${key}`;
  }

  #encode(key: string, record: TokenRecord): string {
    const plain = JSON.stringify({ v: FORMAT, key, record });
    if (!this.#encKey) return plain;
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#encKey, iv);
    // The key name is authenticated data: a ciphertext moved to another key does not decrypt.
    cipher.setAAD(Buffer.from(`${this.prefix}token:${key}`, "utf8"));
    const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return JSON.stringify({
      v: FORMAT,
      enc: "A256GCM",
      iv: iv.toString("base64"),
      tag: cipher.getAuthTag().toString("base64"),
      ct: ct.toString("base64"),
    });
  }

  #decode(key: string, doc: string): TokenRecord {
    const where = `the record of "${key}" in ${this.location}`;
    let env: Record<string, unknown>;
    try {
      env = JSON.parse(doc) as Record<string, unknown>;
    } catch {
      throw new HpauthError("STORE_ERROR", `${where} is not valid JSON (written by another program?)`, {
        hint: `Inspect the key ${this.prefix}token:${key}; \`hpauth logout\` deletes it.`,
      });
    }
    if (typeof env.v === "number" && env.v > FORMAT) throw future(where, env.v);
    if (env.enc !== undefined) {
      if (env.enc !== "A256GCM")
        throw new HpauthError("STORE_ERROR", `${where} uses unknown encryption "${String(env.enc)}"`);
      if (!this.#encKey) {
        throw new HpauthError("STORE_ERROR", `${where} is encrypted and no store key is configured.`, {
          hint: "Set HPAUTH_STORE_KEY (or store_key_env / store_key_command in the config) to the fleet's key.",
        });
      }
      try {
        const d = createDecipheriv("aes-256-gcm", this.#encKey, Buffer.from(String(env.iv), "base64"));
        d.setAAD(Buffer.from(`${this.prefix}token:${key}`, "utf8"));
        d.setAuthTag(Buffer.from(String(env.tag), "base64"));
        const plain = Buffer.concat([d.update(Buffer.from(String(env.ct), "base64")), d.final()]).toString("utf8");
        env = JSON.parse(plain) as Record<string, unknown>;
      } catch {
        throw new HpauthError("STORE_ERROR", `${where} cannot be decrypted with the configured store key.`, {
          hint: "Every host of the fleet needs the same HPAUTH_STORE_KEY; a record written under another key cannot be read.",
        });
      }
    }
    const record = env.record as Record<string, unknown> | undefined;
    if (typeof record?.v === "number" && record.v > RECORD_VERSION) throw future(where, record.v);
    if (
      env.v !== FORMAT ||
      env.key !== key ||
      !record ||
      record.v !== RECORD_VERSION ||
      typeof record.provider !== "string"
    ) {
      throw new HpauthError("STORE_ERROR", `${where} is damaged or not an hpauth record.`, {
        hint: `Inspect the key ${this.prefix}token:${key}; \`hpauth logout\` deletes it and a new login replaces it.`,
      });
    }
    return record as unknown as TokenRecord;
  }
}

function parseKey(k: string | Buffer): Buffer {
  let b: Buffer;
  if (Buffer.isBuffer(k)) b = k;
  else if (/^[0-9a-f]{64}$/i.test(k.trim())) b = Buffer.from(k.trim(), "hex");
  else b = Buffer.from(k.trim(), "base64");
  if (b.length !== 32) {
    throw new HpauthError("CONFIG_INVALID", "The store encryption key must be 32 bytes (64 hex digits or base64).", {
      hint: "Generate one with `openssl rand -base64 32`.",
    });
  }
  return b;
}

function checkKey(key: string): void {
  if (typeof key !== "string" || key === "")
    throw new HpauthError("USAGE", "A token store key must be a non-empty string.");
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, "\\$&");
}

function isHpauthError(e: unknown): e is HpauthError {
  return e instanceof HpauthError;
}

/** Failures of a first connection that no retry can fix: credentials, permissions, certificates. */
function fatal(e: unknown): boolean {
  const err = e as { code?: string } | undefined;
  return (
    /WRONGPASS|NOAUTH|NOPERM|invalid username-password|certificate|self.signed|SSL|TLS|verify/i.test(describe(e)) ||
    /^ERR_TLS|^CERT_|^DEPTH_ZERO|^UNABLE_TO/.test(err?.code ?? "")
  );
}

/** Connection-level failures worth retrying a write through; script and permission errors are answers. */
function transient(e: unknown): boolean {
  const msg = describe(e);
  if (/NOPERM|WRONGPASS|NOAUTH|ERR |WRONGTYPE|NOSCRIPT/.test(msg)) return false;
  return true;
}

function describe(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) return describe(e.errors[0]);
  const err = e as { code?: string; message?: string; name?: string } | undefined;
  const m = err?.message || err?.code || err?.name || String(e);
  return m.split("\n")[0] ?? m;
}

async function withTimeout<T>(p: Promise<T>, ms: number, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`no connection within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function future(where: string, v: number): HpauthError {
  return new HpauthError(
    "STORE_ERROR",
    `${where} was written by a newer hpauth (format version ${v}); refusing to read or overwrite it.`,
    {
      hint: "Upgrade hpauth on this host (every host of a fleet should run the same version), or use another --store prefix.",
    },
  );
}

function cancelled(): HpauthError {
  return new HpauthError("CANCELLED", "Cancelled while waiting for the token lock.");
}

function lockTimeout(key: string, timeoutMs: number, ttlMs: number): HpauthError {
  return new HpauthError("LOCK_TIMEOUT", `Timed out after ${timeoutMs} ms waiting for the lock on "${key}" in Redis.`, {
    hint: `Another hpauth process (on any host sharing this Redis) is refreshing or logging in for this credential; wait for it or raise the lock timeout (a crashed holder's lease runs out after ${Math.round(ttlMs / 1000)} s).`,
  });
}
