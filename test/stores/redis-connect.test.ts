/**
 * How the Redis store reaches Redis, and what it says when it cannot: credentials from the options or the URL,
 * refused credentials and permissions, a Redis that is down, silent, or goes away and comes back (a write rides
 * it out; the lease is reported lost only once Redis stayed away longer than the lease), TLS with a private CA, a
 * server name and a client certificate, and a closed store. Real redis-servers, short timeouts, bounded waits.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { RedisTokenStore, type RedisTokenStoreOptions } from "../../src/stores/redis.js";
import { record } from "./helpers.js";
import { type RedisServer, redisCli, startRedis } from "./redis-server.js";

const stores: RedisTokenStore[] = [];
function open(url: string, extra: Partial<RedisTokenStoreOptions> = {}, warnings: string[] = []): RedisTokenStore {
  const s = new RedisTokenStore({ url, onWarning: (m) => warnings.push(m), ...extra });
  stores.push(s);
  return s;
}
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
});

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

const NEVER_FALLS_BACK =
  "Check that Redis is running and reachable (hpauth never falls back to another store: that would split the fleet's tokens and spend Aruba's login budget twice).";

describe("credentials and permissions", () => {
  let secured: RedisServer;
  const password = `p@ss:/${randomBytes(8).toString("hex")}`;
  beforeAll(async () => {
    secured = await startRedis({ password });
    redisCli(
      secured,
      [
        "ACL",
        "SETUSER",
        "reader",
        "on",
        ">reader-pw",
        "~*",
        "&*",
        "-@all",
        "+hmget",
        "+hello",
        "+auth",
        "+select",
        "+ping",
        "+scan",
      ],
      password,
    );
  });
  afterAll(async () => {
    await secured?.dispose();
  });
  const base = () => `redis://127.0.0.1:${secured.port}`;

  it("the password may come from the options or, percent-encoded, from the URL; the options win", async () => {
    await open(`${base()}/0`, { password }).set("k", record({ accessToken: "from-options" }));
    const inUrl = open(`redis://:${encodeURIComponent(password)}@127.0.0.1:${secured.port}/0`);
    expect((await inUrl.get("k"))?.accessToken).toBe("from-options");
    expect(inUrl.location).toBe(`redis://127.0.0.1:${secured.port}/0 prefix=hpauth:`);
    expect(inUrl.location).not.toContain("p@ss");
    const wrongInUrl = open(`redis://:wrong@127.0.0.1:${secured.port}/0`, { password });
    expect((await wrongInUrl.get("k"))?.accessToken).toBe("from-options");
    // The user of the options replaces the URL's.
    const reader = open(`redis://nobody@127.0.0.1:${secured.port}/0`, { username: "reader", password: "reader-pw" });
    expect((await reader.get("k"))?.accessToken).toBe("from-options");
  });

  it("refused credentials: at once (not retried until the connect timeout), the first line, the fix, no secret", async () => {
    for (const extra of [{}, { password: "not-it-secret" }, { username: "reader", password: "not-it-secret" }]) {
      const started = Date.now();
      const e = await failure(open(`${base()}/0`, { connectTimeoutMs: 30_000, ...extra }).get("k"));
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(e.code).toBe("STORE_ERROR");
      expect(e.message).toMatch(
        new RegExp(
          `^Redis at redis://127\\.0\\.0\\.1:${secured.port}/0 refused the credentials \\((NOAUTH|WRONGPASS)[^\\n]*\\)\\.$`,
        ),
      );
      expect(e.hint).toBe(
        "Set the password in HPAUTH_STORE_PASSWORD (or store_password_env / store_password_command in the config), and the user in the URL: redis://user@host:port/db.",
      );
      expect(`${e.message} ${e.hint}`).not.toContain("not-it-secret");
    }
  });

  it("a command the ACL does not grant: NOPERM, what was refused, and the prefix to grant; not retried", async () => {
    const reader = open(`redis://reader@127.0.0.1:${secured.port}/0`, {
      password: "reader-pw",
      prefix: "team-a:",
      commitRetryMs: 30_000,
    });
    expect(await reader.get("nothing")).toBeUndefined();
    const started = Date.now();
    const e = await failure(reader.set("k", record()));
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(e.code).toBe("STORE_ERROR");
    expect(e.message).toMatch(
      new RegExp(
        `^Redis at redis://reader@127\\.0\\.0\\.1:${secured.port}/0 refused to save the record of "k": NOPERM`,
      ),
    );
    expect(e.hint).toBe(
      "Grant the ACL user the commands and the key/channel patterns team-a:* listed in docs/stores.md.",
    );
    const lock = await failure(reader.withLock("k", async () => 1));
    expect(lock.message).toMatch(/refused to lock "k": NOPERM/);
  });
});

describe("Redis down, silent, away and back", () => {
  it("down: ECONNREFUSED after the connect timeout, the URL, the hint; the next call connects once it is up", async () => {
    const srv = await startRedis();
    try {
      await srv.stop();
      for (const host of ["127.0.0.1", "localhost"]) {
        const e = await failure(open(`redis://${host}:${srv.port}/0`, { connectTimeoutMs: 300 }).get("k"));
        expect(e.code).toBe("STORE_ERROR");
        expect(e.message).toMatch(
          new RegExp(`^Cannot connect to Redis at redis://${host}:${srv.port}/0: .*ECONNREFUSED`),
        );
        expect(e.hint).toBe(NEVER_FALLS_BACK);
      }
      const s = open(srv.url, { connectTimeoutMs: 300 });
      expect((await failure(s.get("k"))).message).toMatch(/ECONNREFUSED/);
      await srv.start();
      await s.set("k", record({ accessToken: "back" }));
      expect((await s.get("k"))?.accessToken).toBe("back");
    } finally {
      await srv.dispose();
    }
  });

  it("silent (accepts, never answers): no connection within the connect timeout, said so", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((sock) => void sockets.push(sock));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      const e = await failure(open(`redis://127.0.0.1:${port}/0`, { connectTimeoutMs: 300 }).get("k"));
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      expect(e.code).toBe("STORE_ERROR");
      expect(e.message).toBe(`Cannot connect to Redis at redis://127.0.0.1:${port}/0: no connection within 800 ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it("away while connected: one warning, reads fail fast, a write waits for it to come back", async () => {
    const srv = await startRedis({ args: ["--appendonly", "yes", "--appendfsync", "always"] });
    try {
      const warnings: string[] = [];
      const s = open(srv.url, { commitRetryMs: 20_000 }, warnings);
      await s.set("k", record({ refreshToken: "rt-before" }));
      await srv.stop();
      await until(() => warnings.length > 0);
      expect(warnings[0]).toMatch(
        new RegExp(`^Redis at redis://127\\.0\\.0\\.1:${srv.port}/0: .* \\(reconnecting\\)$`),
      );
      const read = await failure(s.get("k"));
      expect(read.message).toMatch(new RegExp(`^Cannot read "k" in Redis at redis://127\\.0\\.0\\.1:${srv.port}/0: `));
      setTimeout(() => void srv.start(), 300);
      await s.set("k", record({ refreshToken: "rt-rotated" }));
      expect((await s.get("k"))?.refreshToken).toBe("rt-rotated");
      expect(warnings).toContain(`Redis at redis://127.0.0.1:${srv.port}/0 unreachable while saving "k"; retrying.`);
      expect(warnings.filter((w) => w.endsWith("(reconnecting)"))).toHaveLength(1);
    } finally {
      await srv.dispose();
    }
  });

  it("away for longer than the lease while a lock is held: lost, reported, its release fails softly", async () => {
    const srv = await startRedis();
    try {
      const warnings: string[] = [];
      const s = open(srv.url, { lockTtlMs: 300, commitRetryMs: 300 }, warnings);
      const err = await failure(
        s.withLock("k", async () => {
          await s.get("k");
          await srv.stop();
          await until(() => warnings.some((w) => w.includes("was lost while held")));
          await s.set("k", record());
        }),
      );
      expect(warnings).toContain(
        'The lock on "k" was lost while held (Redis was unreachable for longer than the lease); writes under it are fenced by the record\'s generation.',
      );
      expect(err.message).toMatch(
        /^Cannot save the record of "k" \(retried for 0 s\) in Redis at redis:\/\/127\.0\.0\.1:\d+\/0: /,
      );
      expect(warnings.filter((w) => w.startsWith('Releasing the lock on "k" failed ('))).toHaveLength(1);
      expect(warnings.find((w) => w.startsWith("Releasing"))).toMatch(/\); it expires within 300 ms\.$/);
    } finally {
      await srv.dispose();
    }
  });

  it("a write Redis answers with an error is not retried: WRONGTYPE at once", async () => {
    const srv = await startRedis();
    try {
      redisCli(srv, ["SET", "hpauth:token:k", "a string, not a hash"]);
      const s = open(srv.url, { commitRetryMs: 30_000 });
      const started = Date.now();
      const e = await failure(s.set("k", record()));
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(e.message).toMatch(
        new RegExp(`^Cannot save the record of "k" in Redis at redis://127\\.0\\.0\\.1:${srv.port}/0: .*WRONGTYPE`),
      );
      expect(e.hint).toBe(NEVER_FALLS_BACK);
      expect((await failure(s.get("k"))).message).toMatch(/^Cannot read "k" in Redis at .*WRONGTYPE/);
      expect((await failure(s.delete("k"))).message).toMatch(/^Cannot save the record of "k".*WRONGTYPE/);
    } finally {
      await srv.dispose();
    }
  });
});

describe("closed, and made without a URL", () => {
  it("a closed store refuses every call at once, and closing twice is fine", async () => {
    const srv = await startRedis();
    try {
      const s = open(srv.url, { commitRetryMs: 30_000 });
      await s.set("k", record());
      await s.close();
      await s.close();
      const started = Date.now();
      for (const p of [s.get("k"), s.set("k", record()), s.delete("k"), s.list(), s.withLock("k", async () => 1)]) {
        const e = await failure(p);
        expect(e.code).toBe("STORE_ERROR");
        expect(e.message).toBe("The Redis token store is closed.");
      }
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await srv.dispose();
    }
  });

  it("a store needs a URL", () => {
    for (const o of [undefined, {}, { url: "" }]) {
      let err: unknown;
      try {
        new RedisTokenStore(o as unknown as RedisTokenStoreOptions);
      } catch (e) {
        err = e;
      }
      expect((err as HpauthError).code).toBe("USAGE");
      expect((err as HpauthError).message).toBe("RedisTokenStore needs a url (redis://host:port/db).");
    }
  });

  it("without onWarning, warnings go to process.emitWarning as HPAUTH_STORE", async () => {
    const srv = await startRedis();
    const seen: Array<{ message: string; code?: string }> = [];
    const listener = (w: Error & { code?: string }) => void seen.push({ message: w.message, code: w.code });
    process.on("warning", listener);
    try {
      const s = new RedisTokenStore({ url: srv.url });
      stores.push(s);
      const other = open(srv.url);
      await s.withLock("k", async () => {
        await other.set("k", record());
        await s.set("k", record(), { ifCurrent: () => true });
      });
      await until(() => seen.length > 0);
      expect(seen).toEqual([
        {
          message: 'The record of "k" changed since it was read under the lock, but may be replaced: saving.',
          code: "HPAUTH_STORE",
        },
      ]);
    } finally {
      process.off("warning", listener);
      await srv.dispose();
    }
  });
});

describe("TLS", () => {
  let tls: RedisServer;
  beforeAll(async () => {
    // Clients must present a certificate signed by the CA (mutual TLS).
    tls = await startRedis({ tls: true, args: ["--tls-auth-clients", "yes"] });
  });
  afterAll(async () => {
    await tls?.dispose();
  });

  it("a private CA, a client certificate and the server name; a wrong name or no certificate refused at once", async () => {
    const cert = await readFile(join(tls.dir, "server.crt"));
    const key = await readFile(join(tls.dir, "server.key"));
    const url = `rediss://127.0.0.1:${tls.port}/0`;
    const good = open(url, { tls: { ca: tls.ca!, cert, key, servername: "localhost" } });
    await good.set("t", record({ accessToken: "over-tls" }));
    expect((await good.get("t"))?.accessToken).toBe("over-tls");
    expect(good.location).toBe(`rediss://127.0.0.1:${tls.port}/0 prefix=hpauth:`);
    const byName = open(`rediss://localhost:${tls.port}/0`, { tls: { ca: tls.ca!, cert, key } });
    expect((await byName.get("t"))?.accessToken).toBe("over-tls");
    for (const [what, extra] of [
      ["a name the certificate does not carry", { tls: { ca: tls.ca!, cert, key, servername: "wrong.example" } }],
      ["no CA", { tls: { cert, key } }],
    ] as const) {
      const started = Date.now();
      const e = await failure(
        open(`rediss://localhost:${tls.port}/0`, { connectTimeoutMs: 30_000, ...extra }).get("t"),
      );
      expect(Date.now() - started, what).toBeLessThan(15_000);
      expect(e.code).toBe("STORE_ERROR");
      expect(e.message, what).toMatch(/certificate|altnames|self.signed|verify/i);
    }
    const noCert = await failure(
      open(`rediss://localhost:${tls.port}/0`, { connectTimeoutMs: 3000, tls: { ca: tls.ca! } }).get("t"),
    );
    expect(noCert.code).toBe("STORE_ERROR");
    expect(noCert.message).toMatch(/^Cannot connect to Redis at rediss:\/\/localhost:\d+\/0: /);
  });
});
