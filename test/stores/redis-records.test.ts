/**
 * What the Redis store keeps, seen from Redis itself (one real redis-server, no stalls, no restarts): the key layout
 * under the prefix, the JSON envelope and its AES-256-GCM form (readable by any host of the fleet that has the key),
 * the store key's accepted spellings, every kind of record it refuses to read and how it says so, and the listing.
 */
import { createDecipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { DEFAULT_REDIS_PREFIX, RedisTokenStore } from "../../src/stores/redis.js";
import { record } from "./helpers.js";
import { failure, sharedRedis } from "./redis-fixture.js";

const redis = sharedRedis("rec");
const { fresh, open, cli } = redis;

describe("layout", () => {
  it("a record is the hash P token:<key> {gen, doc}; doc is the JSON envelope {v, key, record}", async () => {
    const prefix = fresh();
    const s = open({ prefix });
    const r = record({ accessToken: "at-layout", meta: { n: 1 } });
    const before = Number(cli("TIME").split("\n")[0]) * 1e6;
    await s.set("p:1", r);
    expect(cli("HKEYS", `${prefix}token:p:1`).split("\n").sort()).toEqual(["doc", "gen"]);
    expect(JSON.parse(cli("HGET", `${prefix}token:p:1`, "doc"))).toEqual({ v: 1, key: "p:1", record: r });
    // The generation is the server's clock in µs (or one more than the last): never reused after a delete.
    const gen1 = Number(cli("HGET", `${prefix}token:p:1`, "gen"));
    expect(gen1).toBeGreaterThanOrEqual(before);
    await s.set("p:1", r);
    expect(Number(cli("HGET", `${prefix}token:p:1`, "gen"))).toBeGreaterThan(gen1);
    expect(s.prefix).toBe(prefix);
    expect(s.location).toBe(`redis://127.0.0.1:${redis.server.port}/0 prefix=${prefix}`);
  });

  it("the lock is P lock:<key>, a 128-bit random token with the lease as its expiry, gone after release", async () => {
    const prefix = fresh();
    const s = open({ prefix, lockTtlMs: 60_000 });
    const seen = await s.withLock("k", async () => ({
      token: cli("GET", `${prefix}lock:k`),
      pttl: Number(cli("PTTL", `${prefix}lock:k`)),
    }));
    expect(seen.token).toMatch(/^[0-9a-f]{32}$/);
    expect(seen.pttl).toBeGreaterThan(50_000);
    expect(seen.pttl).toBeLessThanOrEqual(60_000);
    expect(cli("EXISTS", `${prefix}lock:k`)).toBe("0");
    // Two locks never share a token.
    const other = await s.withLock("k", async () => cli("GET", `${prefix}lock:k`));
    expect(other).toMatch(/^[0-9a-f]{32}$/);
    expect(other).not.toBe(seen.token);
  });

  it("the default prefix is hpauth:, a lease shorter than 300 ms is raised to 300 ms", async () => {
    const s = open({ lockTtlMs: 1 });
    expect(s.prefix).toBe(DEFAULT_REDIS_PREFIX);
    expect(DEFAULT_REDIS_PREFIX).toBe("hpauth:");
    const key = `layout-${randomBytes(4).toString("hex")}`;
    const pttl = await s.withLock(key, async () => Number(cli("PTTL", `hpauth:lock:${key}`)));
    expect(pttl).toBeGreaterThan(100);
    expect(pttl).toBeLessThanOrEqual(300);
  });

  it("an empty key is a USAGE error for every operation, before anything is sent", async () => {
    const s = open({ prefix: fresh() });
    for (const p of [s.get(""), s.set("", record()), s.delete(""), s.withLock("", async () => 1)]) {
      const e = await failure(p);
      expect(e.code).toBe("USAGE");
      expect(e.message).toBe("A token store key must be a non-empty string.");
    }
  });

  it("list returns the keys of its own prefix only, sorted, even when the prefix holds glob characters", async () => {
    const tag = randomBytes(4).toString("hex");
    // Unescaped, the pattern of the first would match the second's keys ("*" any, "[x]" x, "?" one character).
    const globby = open({ prefix: `${tag}t*[x]?:` });
    const plainish = open({ prefix: `${tag}tQx1:` });
    for (const k of ["b", "a:2", "a:10", "C"]) await globby.set(k, record());
    await plainish.set("theirs", record());
    expect(await globby.list()).toEqual(["C", "a:10", "a:2", "b"]);
    expect(await plainish.list()).toEqual(["theirs"]);
    // A backslash is literal too (unescaped, "\\t" would match "t": the keys of the prefix without it).
    const slashed = open({ prefix: `${tag}b\\` });
    await slashed.set("mine", record());
    await open({ prefix: `${tag}b` }).set("not-mine", record());
    expect(await slashed.list()).toEqual(["mine"]);
    expect(await open({ prefix: `${tag}none:` }).list()).toEqual([]);
  });
});

describe("encryption at rest", () => {
  function decrypt(raw: string, key: Buffer, aad: string): unknown {
    const env = JSON.parse(raw) as Record<string, string>;
    const d = createDecipheriv("aes-256-gcm", key, Buffer.from(env.iv!, "base64"));
    d.setAAD(Buffer.from(aad, "utf8"));
    d.setAuthTag(Buffer.from(env.tag!, "base64"));
    return JSON.parse(Buffer.concat([d.update(Buffer.from(env.ct!, "base64")), d.final()]).toString("utf8"));
  }

  it("the envelope is {v, enc: A256GCM, iv, tag, ct} over the plain envelope, the key name as authenticated data", async () => {
    const prefix = fresh();
    const key = randomBytes(32);
    const s = open({ prefix, encryptionKey: key });
    const r = record({ accessToken: "at-ünïcødé-secret", refreshToken: "rt-secret" });
    await s.set("k", r);
    const raw = cli("HGET", `${prefix}token:k`, "doc");
    const env = JSON.parse(raw) as Record<string, unknown>;
    expect(Object.keys(env).sort()).toEqual(["ct", "enc", "iv", "tag", "v"]);
    expect(env).toMatchObject({ v: 1, enc: "A256GCM" });
    expect(Buffer.from(String(env.iv), "base64")).toHaveLength(12);
    expect(Buffer.from(String(env.tag), "base64")).toHaveLength(16);
    expect(raw).not.toContain("secret");
    expect(decrypt(raw, key, `${prefix}token:k`)).toEqual({ v: 1, key: "k", record: r });
    // A fresh IV for every write.
    await s.set("k", r);
    expect(JSON.parse(cli("HGET", `${prefix}token:k`, "doc")).iv).not.toBe(env.iv);
    expect(await s.get("k")).toEqual(r);
  });

  it("the key may be 64 hex digits, base64 (a trailing newline is fine) or 32 raw bytes: the same key reads", async () => {
    const prefix = fresh();
    const key = randomBytes(32);
    await open({ prefix, encryptionKey: `${key.toString("hex").toUpperCase()}\n` }).set(
      "k",
      record({ accessToken: "hex" }),
    );
    expect((await open({ prefix, encryptionKey: key }).get("k"))?.accessToken).toBe("hex");
    expect((await open({ prefix, encryptionKey: ` ${key.toString("base64")}\n` }).get("k"))?.accessToken).toBe("hex");
    expect((await open({ prefix, encryptionKey: key.toString("hex") }).get("k"))?.accessToken).toBe("hex");
  });

  it("a key of another length is refused when the store is made, with how to make one", () => {
    for (const k of ["short", "a".repeat(63), "a".repeat(65), randomBytes(16), randomBytes(33).toString("base64")]) {
      let err: unknown;
      try {
        new RedisTokenStore({ url: redis.server.url, encryptionKey: k });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HpauthError);
      expect((err as HpauthError).code).toBe("CONFIG_INVALID");
      expect((err as HpauthError).message).toBe("The store encryption key must be 32 bytes (64 hex digits or base64).");
      expect((err as HpauthError).hint).toBe("Generate one with `openssl rand -base64 32`.");
    }
  });

  it("without a key, with another key, or moved to another key name: refused with the fix, never the plaintext", async () => {
    const prefix = fresh();
    const key = randomBytes(32);
    const s = open({ prefix, encryptionKey: key });
    await s.set("k", record({ refreshToken: "rt-secret-value" }));
    const where = `the record of "k" in redis://127.0.0.1:${redis.server.port}/0 prefix=${prefix}`;
    const noKey = await failure(open({ prefix }).get("k"));
    expect(noKey.code).toBe("STORE_ERROR");
    expect(noKey.message).toBe(`${where} is encrypted and no store key is configured.`);
    expect(noKey.hint).toBe(
      "Set HPAUTH_STORE_KEY (or store_key_env / store_key_command in the config) to the fleet's key.",
    );
    const other = await failure(open({ prefix, encryptionKey: randomBytes(32) }).get("k"));
    expect(other.message).toBe(`${where} cannot be decrypted with the configured store key.`);
    expect(other.hint).toMatch(/same HPAUTH_STORE_KEY/);
    // Another prefix is another key name: the authenticated data differs.
    const otherPrefix = fresh();
    cli("HSET", `${otherPrefix}token:k`, "gen", "1", "doc", cli("HGET", `${prefix}token:k`, "doc"));
    expect((await failure(open({ prefix: otherPrefix, encryptionKey: key }).get("k"))).message).toMatch(
      /cannot be decrypted/,
    );
    // A plain record is still read by a store that has a key (a fleet turning encryption on).
    await open({ prefix }).set("plain", record({ accessToken: "was-plain" }));
    expect((await s.get("plain"))?.accessToken).toBe("was-plain");
  });
});

describe("records it will not read", () => {
  const prefix = fresh();
  const where = () => `the record of "k" in redis://127.0.0.1:${redis.server.port}/0 prefix=${prefix}`;
  function put(doc: unknown): void {
    cli("HSET", `${prefix}token:k`, "gen", "1", "doc", typeof doc === "string" ? doc : JSON.stringify(doc));
  }
  const good = () => record({ accessToken: "ok" });

  it("not JSON: says so and which key to inspect", async () => {
    put("{not json");
    const e = await failure(open({ prefix }).get("k"));
    expect(e.code).toBe("STORE_ERROR");
    expect(e.message).toBe(`${where()} is not valid JSON (written by another program?)`);
    expect(e.hint).toBe(`Inspect the key ${prefix}token:k; \`hpauth logout\` deletes it.`);
  });

  it("a newer envelope or record version: upgrade, never read", async () => {
    for (const [doc, v] of [
      [{ v: 2, key: "k", record: good() }, 2],
      [{ v: 1, key: "k", record: { ...good(), v: 3 } }, 3],
    ] as const) {
      put(doc);
      const e = await failure(open({ prefix }).get("k"));
      expect(e.message).toBe(
        `${where()} was written by a newer hpauth (format version ${v}); refusing to read or overwrite it.`,
      );
      expect(e.hint).toMatch(/^Upgrade hpauth on this host/);
    }
  });

  it("an unknown encryption is named", async () => {
    put({ v: 1, enc: "ROT13", ct: "x" });
    const e = await failure(open({ prefix, encryptionKey: randomBytes(32) }).get("k"));
    expect(e.message).toBe(`${where()} uses unknown encryption "ROT13"`);
  });

  it("a damaged envelope or a record that is not an hpauth v1 record", async () => {
    const r = good();
    const { provider: _p, ...noProvider } = r;
    for (const doc of [
      { v: 0, key: "k", record: r },
      { v: "1", key: "k", record: r },
      { key: "k", record: r },
      { v: 1, key: "other-key", record: r },
      { v: 1, key: "k" },
      { v: 1, key: "k", record: { ...r, v: 0 } },
      { v: 1, key: "k", record: { ...r, v: "2" } },
      { v: 1, key: "k", record: noProvider },
      { v: 1, key: "k", record: { ...r, provider: 7 } },
    ]) {
      put(doc);
      const e = await failure(open({ prefix }).get("k"));
      expect(e.message, JSON.stringify(doc)).toBe(`${where()} is damaged or not an hpauth record.`);
      expect(e.hint).toBe(
        `Inspect the key ${prefix}token:k; \`hpauth logout\` deletes it and a new login replaces it.`,
      );
    }
    put({ v: 1, key: "k", record: r });
    expect(await open({ prefix }).get("k")).toEqual(r);
  });

  it("a damaged field is dropped with a warning naming the record and where it is", async () => {
    put({ v: 1, key: "k", record: { ...good(), scope: 42 } });
    const warnings: string[] = [];
    const got = await open({ prefix }, warnings).get("k");
    expect(got?.accessToken).toBe("ok");
    expect(got?.scope).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      new RegExp(
        `^The record of "k" in redis://127\\.0\\.0\\.1:${redis.server.port}/0 prefix=${prefix} has damaged fields`,
      ),
    );
  });
});
