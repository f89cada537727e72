/**
 * RedisTokenStore against real redis-servers: fencing of a holder stalled past its lease, pub/sub wake-up,
 * requirepass, an ACL user with exactly the documented permissions, TLS with a private CA, encryption at rest,
 * Redis unreachable, and a write riding out a Redis restart.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { parseRedisUrl, RedisTokenStore, type RedisTokenStoreOptions } from "../../src/stores/redis.js";
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

/** Stalls this whole process (timers included), as a GC pause or SIGSTOP would. */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const stores: RedisTokenStore[] = [];
function open(server: RedisServer, extra: Partial<RedisTokenStoreOptions> = {}): RedisTokenStore {
  const s = new RedisTokenStore({ url: server.url, onWarning: () => {}, ...extra });
  stores.push(s);
  return s;
}

/** The command list docs/stores.md gives for the ACL user (scripts run their inner commands as that user too). */
const ACL_COMMANDS =
  "+hmget +hget +hset +get +set +del +pexpire +pttl +time +publish +scan +eval +evalsha +subscribe +unsubscribe +ping +hello +auth +select";

let plain: RedisServer;
beforeAll(async () => {
  plain = await startRedis();
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await plain?.dispose();
});

describe("fencing", () => {
  it("a holder stalled past its lease cannot overwrite its successor's record, and serves nothing stale", async () => {
    const prefix = `fence${randomBytes(3).toString("hex")}:`;
    const a = open(plain, { prefix, lockTtlMs: 400 });
    const b = open(plain, { prefix, lockTtlMs: 400 });
    await a.set("k", record({ accessToken: "v1" }));
    const warnings: string[] = [];
    const a2 = open(plain, { prefix, lockTtlMs: 400, onWarning: (m) => warnings.push(m) });
    const err = await failure(
      a2.withLock("k", async () => {
        expect((await a2.get("k"))?.accessToken).toBe("v1");
        stall(900); // the lease (400 ms) runs out; no renewal can run
        // Its successor (another process, another host) takes the lock and rotates.
        await b.withLock("k", async () => {
          expect((await b.get("k"))?.accessToken).toBe("v1");
          await b.set("k", record({ accessToken: "v2-newer" }));
        });
        await a2.set("k", record({ accessToken: "v2-stale-writer" }));
      }),
    );
    expect(err.code).toBe("STORE_ERROR");
    expect(err.message).toMatch(/written by another holder/);
    expect((await a.get("k"))?.accessToken).toBe("v2-newer");
  });

  it("ifCurrent lets a stalled holder save when the newer record is one it may replace", async () => {
    const prefix = `fenceok${randomBytes(3).toString("hex")}:`;
    const a = open(plain, { prefix, lockTtlMs: 400 });
    const b = open(plain, { prefix, lockTtlMs: 400 });
    await a.set("k", record({ accessToken: "v1", refreshToken: "rt1" }));
    await a.withLock("k", async () => {
      await a.get("k");
      stall(900);
      // The successor only noted an error; the tokens are the ones the stalled holder started from.
      await b.withLock("k", async () => b.set("k", record({ accessToken: "v1", refreshToken: "rt1", updatedAt: 5 })));
      await a.set("k", record({ accessToken: "v2", refreshToken: "rt2" }), {
        ifCurrent: (cur) => cur?.refreshToken === "rt1",
      });
    });
    expect((await b.get("k"))?.refreshToken).toBe("rt2");
  });

  it("a deleted and rewritten record never repeats a generation (no ABA)", async () => {
    const prefix = `aba${randomBytes(3).toString("hex")}:`;
    const a = open(plain, { prefix, lockTtlMs: 400 });
    const b = open(plain, { prefix, lockTtlMs: 400 });
    await a.set("k", record({ accessToken: "v1" }));
    const err = await failure(
      a.withLock("k", async () => {
        await a.get("k");
        stall(900);
        await b.withLock("k", async () => {
          await b.delete("k");
          await b.set("k", record({ accessToken: "v1-again" }));
        });
        await a.set("k", record({ accessToken: "stale" }));
      }),
    );
    expect(err.message).toMatch(/another holder/);
    expect((await b.get("k"))?.accessToken).toBe("v1-again");
  });

  it("writes outside withLock are unconditional; inside, each write moves the holder's fence along", async () => {
    const a = open(plain, { prefix: `seq${randomBytes(3).toString("hex")}:` });
    await a.set("k", record({ accessToken: "x" }));
    await a.withLock("k", async () => {
      await a.set("k", record({ accessToken: "1" }));
      await a.set("k", record({ accessToken: "2" })); // its own previous write is not a conflict
      await a.delete("k");
      await a.set("k", record({ accessToken: "3" }));
    });
    expect((await a.get("k"))?.accessToken).toBe("3");
  });
});

describe("waiting", () => {
  it("a waiter is woken by the release (pub/sub), not by its slow safety poll", async () => {
    const prefix = `wake${randomBytes(3).toString("hex")}:`;
    const a = open(plain, { prefix, lockTtlMs: 60_000 });
    const b = open(plain, { prefix, lockTtlMs: 60_000, pollMs: 20_000 });
    let release!: () => void;
    let held!: () => void;
    const isHeld = new Promise<void>((r) => (held = r));
    const holder = a.withLock("k", async () => {
      held();
      await new Promise<void>((r) => (release = r));
    });
    await isHeld;
    let releasedAt = 0;
    const waiter = b.withLock("k", async () => Date.now() - releasedAt);
    await sleep(300); // the waiter is subscribed and sleeping
    releasedAt = Date.now();
    release();
    await holder;
    // With only the 20 s poll this would take ~15-25 s; pub/sub wakes it at once.
    expect(await waiter).toBeLessThan(3000);
  });

  it("a holder that never releases (crashed) is taken over when its lease runs out", async () => {
    const prefix = `crash${randomBytes(3).toString("hex")}:`;
    const lockKey = `${prefix}lock:k`;
    // A dead holder's lock as it stays in Redis: our token is not in it, nobody renews it.
    redisCli(plain, ["SET", lockKey, "dead-holder-token", "PX", "700"]);
    const b = open(plain, { prefix, pollMs: 5000 });
    const started = Date.now();
    await b.withLock("k", async () => undefined, { timeoutMs: 5000 });
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(600);
    expect(waited).toBeLessThan(3000);
  });
});

describe("authentication and transport", () => {
  let secured: RedisServer;
  const password = `pw-${randomBytes(12).toString("hex")}`;
  beforeAll(async () => {
    secured = await startRedis({ password });
    // The ACL docs/stores.md recommends, verbatim: keys and channels under the prefix, only the commands used.
    redisCli(
      secured,
      [
        "ACL",
        "SETUSER",
        "hpauth",
        "on",
        ">hpauth-user-pw",
        "resetkeys",
        "~hpauth:*",
        "resetchannels",
        "&hpauth:*",
        "-@all",
        ...ACL_COMMANDS.split(" "),
      ],
      password,
    );
    redisCli(
      secured,
      [
        "ACL",
        "SETUSER",
        "readonly",
        "on",
        ">ro-pw",
        "~hpauth:*",
        "&hpauth:*",
        "-@all",
        "+hmget",
        "+hello",
        "+auth",
        "+ping",
        "+select",
      ],
      password,
    );
  });
  afterAll(async () => {
    await secured?.dispose();
  });

  it("requirepass: without the password a clear STORE_ERROR naming the fix, never the password", async () => {
    const err = await failure(open(secured).get("k"));
    expect(err.code).toBe("STORE_ERROR");
    expect(err.message).toContain(`127.0.0.1:${secured.port}`);
    expect(err.hint).toMatch(/HPAUTH_STORE_PASSWORD/);
    const wrong = await failure(open(secured, { password: "not-it" }).get("k"));
    expect(wrong.message).toMatch(/refused the credentials/);
    expect(`${wrong.message} ${wrong.hint}`).not.toContain("not-it");
    const ok = open(secured, { password });
    await ok.set("k", record());
    expect((await ok.get("k"))?.accessToken).toBe("at-not-a-real-token");
  });

  it("an ACL user with the documented permissions can do everything the engine does", async () => {
    const a = open(secured, { url: `redis://hpauth@127.0.0.1:${secured.port}/0`, password: "hpauth-user-pw" });
    const b = open(secured, { url: `redis://hpauth@127.0.0.1:${secured.port}/0`, password: "hpauth-user-pw" });
    await a.set("acl", record({ accessToken: "one" }));
    const order: string[] = [];
    let release!: () => void;
    let held!: () => void;
    const isHeld = new Promise<void>((r) => (held = r));
    const h = a.withLock("acl", async () => {
      held();
      await new Promise<void>((r) => (release = r));
      order.push("a");
    });
    await isHeld;
    const w = b.withLock("acl", async () => {
      order.push("b");
      await b.set("acl", { ...(await b.get("acl"))!, accessToken: "two" });
    });
    await sleep(100);
    release();
    await Promise.all([h, w]);
    expect(order).toEqual(["a", "b"]);
    expect(await a.list()).toContain("acl");
    await a.delete("acl");
    expect(await b.get("acl")).toBeUndefined();
    expect(a.location).toBe(`redis://hpauth@127.0.0.1:${secured.port}/0 prefix=hpauth:`);
  });

  it("an ACL user without write permission gets NOPERM explained", async () => {
    const ro = open(secured, { url: `redis://readonly@127.0.0.1:${secured.port}/0`, password: "ro-pw" });
    expect(await ro.get("nothing")).toBeUndefined();
    const err = await failure(ro.set("k", record()));
    expect(err.code).toBe("STORE_ERROR");
    expect(err.message).toMatch(/NOPERM|permission/i);
    expect(err.hint).toMatch(/ACL/);
  });

  it("TLS (rediss://) with a private CA; without the CA the certificate is refused", async () => {
    const tls = await startRedis({ tls: true });
    try {
      const url = `rediss://localhost:${tls.port}/0`;
      const good = open(tls, { url, tls: { ca: tls.ca! } });
      await good.set("t", record());
      expect((await good.get("t"))?.accessToken).toBe("at-not-a-real-token");
      await good.close();
      const bad = await failure(open(tls, { url, connectTimeoutMs: 3000 }).get("t"));
      expect(bad.code).toBe("STORE_ERROR");
      expect(bad.message).toMatch(/certificate|self.signed|verify/i);
    } finally {
      await tls.dispose();
    }
  });
});

describe("failures", () => {
  it("Redis unreachable: STORE_ERROR with a hint, quickly, no fallback", async () => {
    const gone = await startRedis();
    const url = gone.url;
    await gone.dispose();
    const started = Date.now();
    const err = await failure(new RedisTokenStore({ url, connectTimeoutMs: 1500, onWarning: () => {} }).get("k"));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.code).toBe("STORE_ERROR");
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(err.message).toContain(url.replace("redis://", ""));
    expect(err.hint).toMatch(/never falls back/);
  });

  it("a write rides out a Redis restart (the only copy of a rotated refresh token is not dropped)", async () => {
    const srv = await startRedis({ args: ["--appendonly", "yes", "--appendfsync", "always"] });
    try {
      const s = open(srv, { commitRetryMs: 15_000 });
      await s.set("k", record({ refreshToken: "rt-before" }));
      await s.withLock("k", async () => {
        await s.get("k");
        await srv.stop();
        setTimeout(() => void srv.start(), 1500);
        await s.set("k", record({ refreshToken: "rt-rotated" }));
      });
      expect((await s.get("k"))?.refreshToken).toBe("rt-rotated");
    } finally {
      await srv.dispose();
    }
  });

  it("a write that cannot reach Redis within commitRetryMs says what was not saved", async () => {
    const srv = await startRedis();
    try {
      const s = open(srv, { commitRetryMs: 1500 });
      await s.get("k");
      await srv.stop();
      const started = Date.now();
      const err = await failure(s.set("k", record()));
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect(err.code).toBe("STORE_ERROR");
      expect(err.message).toMatch(/save the record of "k".*retried/);
    } finally {
      await srv.dispose();
    }
  });
});

describe("encryption at rest", () => {
  it("stores AES-256-GCM ciphertext; the right key reads it, no key or another key is refused clearly", async () => {
    const key = randomBytes(32).toString("base64");
    const prefix = `enc${randomBytes(3).toString("hex")}:`;
    const s = open(plain, { prefix, encryptionKey: key });
    await s.set("k", record({ accessToken: "at-secret-value", refreshToken: "rt-secret-value" }));
    const raw = redisCli(plain, ["HGET", `${prefix}token:k`, "doc"]);
    expect(raw).not.toContain("secret-value");
    expect(raw).toContain("A256GCM");
    expect((await open(plain, { prefix, encryptionKey: key }).get("k"))?.refreshToken).toBe("rt-secret-value");
    const noKey = await failure(open(plain, { prefix }).get("k"));
    expect(noKey.hint).toMatch(/HPAUTH_STORE_KEY/);
    const other = await failure(open(plain, { prefix, encryptionKey: randomBytes(32) }).get("k"));
    expect(other.message).toMatch(/cannot be decrypted/);
    // A ciphertext copied to another key does not decrypt (the key name is authenticated).
    redisCli(plain, ["HSET", `${prefix}token:moved`, "gen", "1", "doc", raw.trim()]);
    expect((await failure(s.get("moved"))).message).toMatch(/cannot be decrypted/);
    expect(() => new RedisTokenStore({ url: plain.url, encryptionKey: "short" })).toThrow(/32 bytes/);
  });
});

describe("URLs", () => {
  it("parses user, host, port, db and TLS, and reports a password without returning it", () => {
    expect(parseRedisUrl("redis://h:1234/3")).toMatchObject({ host: "h", port: 1234, db: 3, tls: false });
    expect(parseRedisUrl("rediss://ops@h")).toMatchObject({ username: "ops", port: 6379, db: 0, tls: true });
    const p = parseRedisUrl("redis://ops:hunter2@h:1/0");
    expect(p.hasPassword).toBe(true);
    expect(JSON.stringify(p)).not.toContain("hunter2");
    expect(() => parseRedisUrl("redis://h/abc")).toThrow(/database/);
    expect(() => parseRedisUrl("http://h")).toThrow(/redis:\/\//);
  });
});
