/**
 * The file store's names and envelope, shared with the CLI's cached-token probe: where the token directory is on
 * each platform, what a record file is called, how its envelope is judged, and which lock files are leftovers.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  baseName,
  FILE_FORMAT,
  isLockLeftover,
  parseFile,
  TEMP_FILE,
  tokenDirFor,
} from "../../src/stores/file-names.js";

describe("tokenDirFor", () => {
  it("Linux and other Unixes: $XDG_DATA_HOME/hpauth/tokens, else ~/.local/share/hpauth/tokens", () => {
    expect(tokenDirFor({ XDG_DATA_HOME: "/data" }, "linux", "/home/u")).toBe("/data/hpauth/tokens");
    expect(tokenDirFor({}, "linux", "/home/u")).toBe("/home/u/.local/share/hpauth/tokens");
    expect(tokenDirFor({}, "freebsd", "/home/u")).toBe("/home/u/.local/share/hpauth/tokens");
    // A relative (or empty) XDG_DATA_HOME is invalid and ignored, as the XDG spec says.
    expect(tokenDirFor({ XDG_DATA_HOME: "data" }, "linux", "/home/u")).toBe("/home/u/.local/share/hpauth/tokens");
    expect(tokenDirFor({ XDG_DATA_HOME: "" }, "linux", "/home/u")).toBe("/home/u/.local/share/hpauth/tokens");
  });

  it("macOS: ~/Library/Application Support/hpauth/tokens, unless XDG_DATA_HOME is set", () => {
    expect(tokenDirFor({}, "darwin", "/Users/u")).toBe("/Users/u/Library/Application Support/hpauth/tokens");
    expect(tokenDirFor({ XDG_DATA_HOME: "rel" }, "darwin", "/Users/u")).toBe(
      "/Users/u/Library/Application Support/hpauth/tokens",
    );
    expect(tokenDirFor({ XDG_DATA_HOME: "/x" }, "darwin", "/Users/u")).toBe("/x/hpauth/tokens");
  });

  it("Windows: %LOCALAPPDATA%\\hpauth\\tokens, else the home's AppData\\Local; XDG does not apply", () => {
    expect(tokenDirFor({ LOCALAPPDATA: "D:\\Local", XDG_DATA_HOME: "/x" }, "win32", "C:\\Users\\u")).toBe(
      "D:\\Local\\hpauth\\tokens",
    );
    expect(tokenDirFor({}, "win32", "C:\\Users\\u")).toBe("C:\\Users\\u\\AppData\\Local\\hpauth\\tokens");
    expect(tokenDirFor({ LOCALAPPDATA: "" }, "win32", "C:\\Users\\u")).toBe(
      "C:\\Users\\u\\AppData\\Local\\hpauth\\tokens",
    );
  });
});

describe("baseName", () => {
  const sha = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

  it("a readable slug (runs of other characters as one _, at most 48) and 32 hex digits of the key's SHA-256", () => {
    expect(baseName("greenlake-abc_123")).toBe(`greenlake-abc_123.${sha("greenlake-abc_123").slice(0, 32)}`);
    expect(baseName("a b/../c")).toBe(`a_b_c.${sha("a b/../c").slice(0, 32)}`);
    expect(baseName("ü:x")).toBe(`_x.${sha("ü:x").slice(0, 32)}`);
    const long = "k".repeat(100);
    expect(baseName(long)).toBe(`${"k".repeat(48)}.${sha(long).slice(0, 32)}`);
  });

  it("keys the slug cannot tell apart still get different names", () => {
    expect(baseName("a/b")).not.toBe(baseName("a:b"));
    expect(baseName("a/b").split(".")[0]).toBe(baseName("a:b").split(".")[0]);
  });

  it("an empty or non-string key is a usage error", () => {
    for (const bad of ["", undefined, 5]) {
      expect(() => baseName(bad as string)).toThrow(
        expect.objectContaining({ code: "USAGE", message: "A token store key must be a non-empty string." }),
      );
    }
  });

  it("a temp file of that base is recognised as one, with the base in group 1", () => {
    const base = baseName("k");
    expect(TEMP_FILE.exec(`.${base}.json.1234-abc.tmp`)?.[1]).toBe(base);
    expect(TEMP_FILE.test(`${base}.json`)).toBe(false);
  });
});

describe("parseFile", () => {
  const record = { v: 1, provider: "greenlake", accessToken: "at", updatedAt: 1 };
  const file = (doc: unknown) => parseFile(JSON.stringify(doc));

  it("a good envelope: the key, the record, and prev when it is a string or null", () => {
    expect(FILE_FORMAT).toBe(1);
    expect(file({ v: 1, key: "k", record })).toEqual({ kind: "ok", key: "k", record });
    expect(file({ v: 1, key: "k", prev: "abc", record })).toEqual({ kind: "ok", key: "k", record, prev: "abc" });
    expect(file({ v: 1, key: "k", prev: null, record })).toEqual({ kind: "ok", key: "k", record, prev: null });
    // Anything else in prev is no prev at all.
    expect(file({ v: 1, key: "k", prev: 7, record })).toEqual({ kind: "ok", key: "k", record });
  });

  it("not JSON, or not an object: corrupt, saying which", () => {
    expect(parseFile("")).toEqual({ kind: "corrupt", reason: "empty file" });
    expect(parseFile('{"v":1,"key":')).toEqual({ kind: "corrupt", reason: "not valid JSON (truncated or edited?)" });
    for (const doc of [null, [1], 5, "text"]) {
      expect(file(doc)).toEqual({ kind: "corrupt", reason: "not a JSON object" });
    }
  });

  it("a newer format, of the envelope or of the record, is the future and not corrupt", () => {
    expect(file({ v: 2, key: "k", record })).toEqual({
      kind: "future",
      version: 2,
      reason: "written by a newer hpauth (format version 2; this one understands 1)",
    });
    expect(file({ v: 1, key: "k", record: { ...record, v: 3 } })).toMatchObject({ kind: "future", version: 3 });
    // Even when the rest would be corrupt: a newer hpauth may have changed it.
    expect(file({ v: 2 })).toMatchObject({ kind: "future", version: 2 });
    expect(file({ record: { v: 5 } })).toMatchObject({ kind: "future", version: 5 });
  });

  it("a version that is no whole number above ours is no newer version", () => {
    for (const v of [1.5, "2", 0, -1, null]) {
      expect(file({ v, key: "k", record }), String(v)).toEqual({
        kind: "corrupt",
        reason: "missing or invalid version field",
      });
    }
    expect(file({ key: "k", record })).toEqual({ kind: "corrupt", reason: "missing or invalid version field" });
    expect(file({ v: 1, key: "k", record: { ...record, v: 1.5 } })).toEqual({
      kind: "corrupt",
      reason: "missing or invalid record",
    });
  });

  it("a missing key or record is corrupt", () => {
    for (const key of [undefined, "", 5]) {
      expect(file({ v: 1, key, record })).toEqual({ kind: "corrupt", reason: "missing key" });
    }
    for (const r of [
      undefined,
      [record],
      "x",
      { ...record, v: 0 },
      { ...record, v: "1" },
      { ...record, provider: 5 },
    ]) {
      expect(file({ v: 1, key: "k", record: r })).toEqual({ kind: "corrupt", reason: "missing or invalid record" });
    }
    const { provider: _, ...noProvider } = record;
    expect(file({ v: 1, key: "k", record: noProvider })).toEqual({
      kind: "corrupt",
      reason: "missing or invalid record",
    });
  });
});

describe("isLockLeftover", () => {
  it("takeover tombstones and released or new locks, by their whole name", () => {
    expect(isLockLeftover("x.json.lock.dead-abc123")).toBe("tombstone");
    expect(isLockLeftover("x.json.lock.stale-AB12cd")).toBe("tombstone");
    expect(isLockLeftover("x.json.lock.released-0af9")).toBe("released");
    expect(isLockLeftover("x.json.lock.new-0af9")).toBe("released");
  });

  it("anything else is not one", () => {
    for (const name of [
      "x.json.lock",
      "x.json",
      "x.json.lock.dead-",
      "x.json.lock.dead-ab_c",
      "x.json.lock.dead-abc.json",
      "x.json.lock.gone-abc",
      "x.json.lock.released-XYZ",
      "x.json.lock.released-",
      "x.json.lock.new-0af9.tmp",
      "x.json.lockXdead-abc",
    ]) {
      expect(isLockLeftover(name), name).toBeUndefined();
    }
  });
});
