/**
 * stores/record.ts, the field-by-field check every store's read path runs (issue 7 item 7), through the file and
 * memory stores: what is salvaged, what is refused, what is kept aside and warned about (once).
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { FileTokenStore, keepCopyOf } from "../../src/stores/file.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import { checkRecord, readRecord } from "../../src/stores/record.js";
import type { TokenRecord } from "../../src/stores/types.js";
import { cleanup, record, tempDir } from "./helpers.js";

let dir: string;
let warnings: string[];
beforeEach(async () => {
  dir = await tempDir();
  warnings = [];
});
afterEach(() => cleanup(dir));

const damaged = (extra: Record<string, unknown>) => ({ ...record(), ...extra }) as unknown as TokenRecord;

describe("checkRecord", () => {
  it("accepts a valid record as is", () => {
    expect(checkRecord(record())).toEqual({ kind: "ok", record: record() });
  });

  it.each([
    [{ expiresAt: 1e20 }, "expiresAt not a time between 1970 and 9999"],
    [{ expiresAt: -1 }, "expiresAt not a time"],
    [{ expiresAt: "tomorrow" }, "expiresAt not a number (string)"],
    [{ obtainedAt: null }, "obtainedAt not a number (null)"],
    [{ accessToken: 42 }, "accessToken is not a string"],
    [{ tokenType: {} }, "tokenType is not a string"],
  ])("%j drops the access token (and its expiry), keeps the refresh token", (extra, problem) => {
    const r = checkRecord(damaged(extra));
    expect(r.kind).toBe("salvaged");
    if (r.kind !== "salvaged") return;
    expect(r.problems.join("; ")).toContain(problem);
    expect(r.record.accessToken).toBeUndefined();
    expect(r.record.expiresAt).toBeUndefined();
    expect(r.record.refreshToken).toBe("rt-not-a-real-token");
    expect(checkRecord(r.record).kind).toBe("ok");
    // Problems name fields, never values.
    expect(r.problems.join(" ")).not.toContain("at-not-a-real-token");
  });

  it.each([
    [{ lastRefreshAt: 1e20 }, "lastRefreshAt"],
    [{ lastLoginAt: "x" }, "lastLoginAt"],
    [{ refreshTokenIssuedAt: Number.NaN }, "refreshTokenIssuedAt"],
    [{ lastError: "boom" }, "lastError"],
    [{ lastError: { code: "X", message: "m", at: 1e20 } }, "lastError"],
    [{ meta: [1, 2] }, "meta"],
    [{ scope: 7 }, "scope"],
  ])("%j drops that field alone", (extra, field) => {
    const r = checkRecord(damaged(extra));
    expect(r.kind).toBe("salvaged");
    if (r.kind !== "salvaged") return;
    expect(r.problems.join("; ")).toContain(field);
    expect(field in r.record).toBe(false);
    expect(r.record.accessToken).toBe("at-not-a-real-token");
  });

  it.each([
    [{ refreshToken: 12 }, /refreshToken is not a token string/],
    [{ refreshToken: "" }, /refreshToken is not a token string/],
    [{ refreshToken: { value: "rt" } }, /refreshToken is not a token string/],
    [{ v: 2 }, /record version/],
    [{ provider: 5 }, /provider/],
  ])("%j is corrupt: nothing is used automatically", (extra, reason) => {
    const r = checkRecord(damaged(extra));
    expect(r.kind).toBe("corrupt");
    if (r.kind === "corrupt") expect(r.reason).toMatch(reason);
  });

  it.each([null, 1, "x", [], true])("%j is corrupt: not a JSON object", (v) => {
    expect(checkRecord(v)).toEqual({ kind: "corrupt", reason: "the record is not a JSON object" });
  });

  it("a record without a refresh token (client credentials) or an access token is valid", () => {
    const { refreshToken: _r, ...noRefresh } = record();
    expect(checkRecord(noRefresh).kind).toBe("ok");
    const { accessToken: _a, tokenType: _t, expiresAt: _e, ...noAccess } = record();
    expect(checkRecord(noAccess).kind).toBe("ok");
  });

  it("says what is wrong with each field, in words (never the value)", () => {
    const r = checkRecord(damaged({ lastLoginAt: [1], scope: 7, meta: "m", lastError: null }));
    expect(r.kind === "salvaged" && r.problems).toEqual([
      "lastLoginAt not a number (array)",
      "scope is not a string",
      "meta is not an object",
      "lastError is not {code, message, at}",
    ]);
  });

  it("a damaged expiry without an access token does not claim to drop one", () => {
    const { accessToken: _a, ...noAccess } = record();
    const r = checkRecord({ ...noAccess, obtainedAt: "x" });
    expect(r.kind === "salvaged" && r.problems).toEqual(["obtainedAt not a number (string)"]);
  });

  it.each([
    [{ code: 1, message: "m", at: 1_700_000_000_000 }, false],
    [{ code: "X", message: 2, at: 1_700_000_000_000 }, false],
    [{ code: "X", message: "m" }, false],
    [{ code: "X", message: "m", at: 1_700_000_000_000 }, true],
  ])("lastError %j is kept: %s", (lastError, kept) => {
    const r = checkRecord(damaged({ lastError }));
    expect(r.kind).toBe(kept ? "ok" : "salvaged");
    expect(r.kind !== "corrupt" && r.record.lastError).toEqual(kept ? lastError : undefined);
  });

  it.each([
    [undefined, "updatedAt is missing"],
    ["yesterday", "updatedAt not a number (string)"],
  ])("updatedAt %j is reported and read as 0 (older than any write)", (updatedAt, problem) => {
    const r = checkRecord({ ...record(), updatedAt });
    expect(r.kind === "salvaged" && r.problems).toEqual([problem]);
    expect(r.kind !== "corrupt" && r.record.updatedAt).toBe(0);
  });
});

describe("readRecord: the warning for a salvaged record", () => {
  async function warningFor(value: unknown, keepAside?: () => Promise<{ path: string; created: boolean }>) {
    const seen: string[] = [];
    const got = await readRecord(value, { where: "Token record k", warn: (m) => seen.push(m), keepAside });
    return { got, seen };
  }

  it("a valid record: no warning, nothing kept aside", async () => {
    let kept = 0;
    const { got, seen } = await warningFor(record(), async () => {
      kept++;
      return { path: "/x", created: true };
    });
    expect(got).toEqual(record());
    expect(seen).toEqual([]);
    expect(kept).toBe(0);
  });

  it("names every problem, where the bytes went, and that the refresh token gets a new access token", async () => {
    const { seen } = await warningFor(damaged({ expiresAt: "x", scope: 7 }), async () => ({
      path: "/d/k.json.corrupt-0123456789ab",
      created: true,
    }));
    expect(seen).toEqual([
      "Token record k has damaged fields (expiresAt not a number (string): access token dropped; scope is not a string)" +
        "; kept a copy at /d/k.json.corrupt-0123456789ab. Using the rest: the refresh token gets a new access token.",
    ]);
  });

  it("without a refresh token, or with only a bookkeeping field damaged, promises no new access token", async () => {
    const { refreshToken: _r, ...noRefresh } = record();
    expect((await warningFor({ ...noRefresh, expiresAt: "x" })).seen).toEqual([
      "Token record k has damaged fields (expiresAt not a number (string): access token dropped). Using the rest.",
    ]);
    expect((await warningFor(damaged({ scope: 7 }))).seen).toEqual([
      "Token record k has damaged fields (scope is not a string). Using the rest.",
    ]);
  });

  it("a copy that could not be kept is said so, with the error's code", async () => {
    const eacces = Object.assign(new Error("denied"), { code: "EACCES" });
    const { got, seen } = await warningFor(damaged({ scope: 7 }), () => Promise.reject(eacces));
    expect(got.refreshToken).toBe("rt-not-a-real-token");
    expect(seen[0]).toContain("(scope is not a string); could not keep a copy (EACCES). Using the rest.");
    const codeless = await warningFor(damaged({ scope: 7 }), () => Promise.reject(new Error("odd")));
    expect(codeless.seen[0]).toContain("; could not keep a copy (error).");
  });
});

describe("keepCopyOf", () => {
  it("names the copy by the first 12 hex digits of the bytes' SHA-256 and makes it once", async () => {
    const file = join(dir, "k.json");
    const first = await keepCopyOf(file, "damaged bytes");
    // sha256("damaged bytes"), first 12 hex digits.
    expect(first.path).toBe(`${file}.corrupt-840221f164db`);
    expect(first.created).toBe(true);
    expect(await keepCopyOf(file, "damaged bytes")).toEqual({ path: first.path, created: false });
  });

  it("an error other than an existing copy is thrown (the caller says it could not keep one)", async () => {
    await expect(keepCopyOf(join(dir, "missing-dir", "k.json"), "x")).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("the file store's read path", () => {
  const open = () => new FileTokenStore({ dir, onWarning: (m) => warnings.push(m) });

  async function write(store: FileTokenStore, rec: unknown) {
    await store.set("k", record());
    const file = store.fileFor("k");
    await writeFile(file, JSON.stringify({ v: 1, key: "k", record: rec }));
    return file;
  }

  it("salvages a damaged expiry: warns once naming the file and field, keeps the bytes aside (0600)", async () => {
    const store = open();
    const file = await write(store, damaged({ expiresAt: 1e20 }));
    const bytes = await readFile(file, "utf8");
    const got = await store.get("k");
    expect(got?.accessToken).toBeUndefined();
    expect(got?.refreshToken).toBe("rt-not-a-real-token");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(file);
    expect(warnings[0]).toMatch(/expiresAt .*access token dropped.*kept a copy at .*\.corrupt-[0-9a-f]{12}/);
    expect(warnings[0]).not.toContain("not-a-real-token");
    const copies = (await readdir(dir)).filter((n) => n.includes(".corrupt-"));
    expect(copies).toHaveLength(1);
    expect(await readFile(join(dir, copies[0]!), "utf8")).toBe(bytes);
    // Read again (a cached token served until the next refresh): no second copy, no second warning.
    await store.get("k");
    expect(warnings).toHaveLength(1);
    expect((await readdir(dir)).filter((n) => n.includes(".corrupt-"))).toHaveLength(1);
  });

  it("refuses a record whose refresh token is damaged, without touching the file", async () => {
    const store = open();
    const file = await write(store, damaged({ refreshToken: 5, expiresAt: "x" }));
    const bytes = await readFile(file, "utf8");
    const err = await store.get("k").then(
      () => undefined,
      (e: unknown) => e as HpauthError,
    );
    expect(err).toBeInstanceOf(HpauthError);
    expect(err?.code).toBe("STORE_ERROR");
    expect(err?.message).toContain(file);
    expect(err?.hint).toMatch(/hpauth logout/);
    expect(await readFile(file, "utf8")).toBe(bytes);
    expect(await store.list()).toEqual(["k"]);
  });
});

describe("the memory store's read path", () => {
  it("checks what a library caller set", async () => {
    const store = new MemoryTokenStore();
    await store.set("k", damaged({ expiresAt: Number.POSITIVE_INFINITY }));
    const original = process.emitWarning;
    const seen: string[] = [];
    process.emitWarning = ((m: string) => seen.push(m)) as typeof process.emitWarning;
    try {
      expect((await store.get("k"))?.accessToken).toBeUndefined();
    } finally {
      process.emitWarning = original;
    }
    expect(seen.join("\n")).toMatch(/memory store.*damaged fields.*expiresAt/);
    await store.set("k", damaged({ refreshToken: 1 }));
    await expect(store.get("k")).rejects.toMatchObject({ code: "STORE_ERROR" });
  });
});
