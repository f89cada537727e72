/** FileTokenStore specifics: layout, permissions, damaged files, stray temp files, lock staleness and loss. */
import { chmod, chown, mkdir, readdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isMainThread } from "node:worker_threads";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { defaultTokenDir, FileTokenStore } from "../../src/stores/file.js";
import { cleanup, record, tempDir } from "./helpers.js";

const posixOnly = process.platform !== "win32";

async function rejection(p: Promise<unknown>): Promise<HpauthError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HpauthError);
    return e as HpauthError;
  }
  throw new Error("expected a rejection");
}

let root: string;
let dir: string;
let warnings: string[];
const open = (extra: Partial<ConstructorParameters<typeof FileTokenStore>[0]> = {}) =>
  new FileTokenStore({ dir, onWarning: (m) => warnings.push(m), ...extra });

beforeEach(async () => {
  root = await tempDir();
  dir = join(root, "data", "hpauth", "tokens");
  warnings = [];
});
afterEach(() => cleanup(root));

describe("defaultTokenDir", () => {
  it.each([
    ["linux", {}, "/home/u/.local/share/hpauth/tokens"],
    ["linux", { XDG_DATA_HOME: "/xdg" }, "/xdg/hpauth/tokens"],
    ["linux", { XDG_DATA_HOME: "relative/ignored" }, "/home/u/.local/share/hpauth/tokens"],
    ["freebsd", {}, "/home/u/.local/share/hpauth/tokens"],
    ["darwin", {}, "/home/u/Library/Application Support/hpauth/tokens"],
    ["darwin", { XDG_DATA_HOME: "/xdg" }, "/xdg/hpauth/tokens"],
  ] as const)("%s %j", (platform, env, expected) => {
    expect(defaultTokenDir(env, platform, "/home/u")).toBe(expected);
  });
  it("uses %LOCALAPPDATA% on Windows", () => {
    expect(defaultTokenDir({ LOCALAPPDATA: "C:\\Users\\u\\AppData\\Local" }, "win32", "C:\\Users\\u")).toBe(
      "C:\\Users\\u\\AppData\\Local\\hpauth\\tokens",
    );
    expect(defaultTokenDir({}, "win32", "C:\\Users\\u")).toBe("C:\\Users\\u\\AppData\\Local\\hpauth\\tokens");
  });
});

describe("layout and permissions", () => {
  it.runIf(posixOnly)("creates the directory 0700 and record files 0600, one per key, holding the key", async () => {
    const store = open();
    await store.set("profile:prod", record());
    await store.set("profile:../evil", record());
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const names = (await readdir(dir)).sort();
    expect(names).toHaveLength(2);
    for (const n of names) {
      expect(n).toMatch(/^[A-Za-z0-9_-]+\.[0-9a-f]{32}\.json$/);
      expect((await stat(join(dir, n))).mode & 0o777).toBe(0o600);
    }
    const file = store.fileFor("profile:prod");
    expect(names).toContain(file.slice(dir.length + 1));
    const doc = JSON.parse(await readFile(file, "utf8"));
    // `prev`: the hash of the record this write replaced (none here), for recovering an interrupted write.
    expect(doc).toEqual({ v: 1, key: "profile:prod", prev: null, record: record() });
  });

  // process.umask() cannot be set in a worker thread, and Stryker's vitest runner forces worker threads
  // (vitest.mutation.config.ts): there, this one test is skipped; the suite runs it (forks).
  it.runIf(posixOnly && isMainThread)("keeps 0600 on rewrite even under a permissive umask", async () => {
    const old = process.umask(0);
    try {
      const store = open();
      await store.set("k", record());
      await store.set("k", record({ updatedAt: 5 }));
      expect((await stat(store.fileFor("k"))).mode & 0o777).toBe(0o600);
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
    } finally {
      process.umask(old);
    }
  });

  it.runIf(posixOnly)("tightens a directory and files that others could read, and says so", async () => {
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o755);
    const store = open();
    await store.set("k", record());
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(warnings.join("\n")).toMatch(/directory .* 0755\); set it to 0700/);
    await chmod(store.fileFor("k"), 0o644);
    expect(await store.get("k")).toEqual(record());
    expect((await stat(store.fileFor("k"))).mode & 0o777).toBe(0o600);
    expect(warnings.join("\n")).toMatch(/file .* 0644\); set it to 0600/);
    expect(warnings.join("\n")).not.toContain("not-a-real-token");
  });

  it.runIf(posixOnly && process.geteuid?.() === 0)("refuses a directory or file owned by someone else", async () => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chown(dir, 4242, 4242);
    const err = await rejection(open().get("k"));
    expect(err.code).toBe("STORE_ERROR");
    expect(err.message).toContain("owned by uid 4242");
    await chown(dir, 0, 0);
    const store = open();
    await store.set("k", record());
    await chown(store.fileFor("k"), 4242, 4242);
    expect((await rejection(store.get("k"))).message).toMatch(/owned by uid 4242/);
  });

  it.runIf(posixOnly)("refuses to follow a symlink planted in place of a record", async () => {
    const store = open();
    await store.set("k", record());
    const target = join(root, "elsewhere.json");
    await writeFile(target, await readFile(store.fileFor("k")));
    await rm(store.fileFor("k"));
    await symlink(target, store.fileFor("k"));
    expect((await rejection(store.get("k"))).message).toMatch(/symbolic link/);
  });
});

describe("damaged and foreign files", () => {
  it("reports a corrupt or truncated file by name, skips it in list, and keeps a copy when overwriting", async () => {
    const store = open();
    await store.set("k", record());
    await store.set("other", record());
    const file = store.fileFor("k");
    const full = await readFile(file, "utf8");
    for (const damaged of [full.slice(0, Math.floor(full.length / 2)), "", "{not json", '{"v":1}', "[]"]) {
      await writeFile(file, damaged);
      const err = await rejection(store.get("k"));
      expect(err.code).toBe("STORE_ERROR");
      expect(err.message).toContain(file);
      expect(err.hint).toMatch(/hpauth login/);
      expect(err.message).not.toContain("not-a-real-token");
    }
    expect(await store.list()).toEqual(["other"]);
    expect(warnings.some((w) => w.includes(file))).toBe(true);

    const damaged = full.slice(0, 40);
    await writeFile(file, damaged);
    await store.set("k", record({ updatedAt: 9 }));
    expect((await store.get("k"))?.updatedAt).toBe(9);
    const copies = (await readdir(dir)).filter((n) => n.includes(".corrupt-"));
    expect(copies).toHaveLength(1);
    const copy = join(dir, copies[0]!);
    expect(await readFile(copy, "utf8")).toBe(damaged);
    if (posixOnly) expect((await stat(copy)).mode & 0o777).toBe(0o600);
    expect((await store.list()).sort()).toEqual(["k", "other"]);
  });

  it.each([
    ["file format", { v: 2, key: "k", record: { v: 1, provider: "wxp", updatedAt: 1 } }],
    ["record", { v: 1, key: "k", record: { v: 3, provider: "wxp", updatedAt: 1, newField: true } }],
  ])("refuses to read or overwrite a newer %s version", async (_what, doc) => {
    const store = open();
    await store.set("k", record());
    const text = JSON.stringify(doc);
    await writeFile(store.fileFor("k"), text);
    const err = await rejection(store.get("k"));
    expect(err.code).toBe("STORE_ERROR");
    expect(err.message).toMatch(/newer hpauth/);
    expect(err.hint).toMatch(/Upgrade/);
    expect((await rejection(store.set("k", record()))).message).toMatch(/newer hpauth/);
    expect(await readFile(store.fileFor("k"), "utf8")).toBe(text);
  });

  it("does not list a record copied under another name twice, nor read it for the wrong key", async () => {
    const store = open();
    await store.set("a", record());
    await writeFile(store.fileFor("b"), await readFile(store.fileFor("a")));
    expect(await store.list()).toEqual(["a"]);
    expect((await rejection(store.get("b"))).message).toMatch(/belongs to another key/);
  });

  it("ignores stray temp files and sweeps the old ones when the store opens", async () => {
    const first = open();
    await first.set("k", record());
    const base = first.fileFor("k").slice(dir.length + 1);
    const oldTmp = join(dir, `.${base}.0011223344556677.tmp`);
    const youngTmp = join(dir, `.${base}.8899aabbccddeeff.tmp`);
    await writeFile(oldTmp, '{"v":1,"key":"k","rec');
    await writeFile(youngTmp, "{");
    const past = new Date(Date.now() - 5 * 60_000);
    await utimes(oldTmp, past, past);
    const store = open();
    expect(await store.get("k")).toEqual(record());
    expect(await store.list()).toEqual(["k"]);
    const names = await readdir(dir);
    expect(names).not.toContain(oldTmp.slice(dir.length + 1));
    expect(names).toContain(youngTmp.slice(dir.length + 1)); // may belong to a live writer
  });

  it.runIf(posixOnly)("recreates the directory (0700) if it was removed under a long-lived store", async () => {
    const store = open();
    await store.set("k", record());
    await rm(dir, { recursive: true });
    await store.set("k", record({ updatedAt: 7 }));
    expect((await store.get("k"))?.updatedAt).toBe(7);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it("leaves no temp file behind after normal writes", async () => {
    const store = open();
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`k${i % 3}`, record({ updatedAt: i }))));
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });
});

describe("lock staleness and loss", () => {
  it("takes over a lock left by a dead holder (stale mtime) and waits out a live one", async () => {
    const store = open({ lockStaleMs: 2000 });
    await store.set("k", record());
    const lockDir = store.fileFor("k").replace(/\.json$/, ".lock");
    await mkdir(lockDir);
    const past = new Date(Date.now() - 10_000);
    await utimes(lockDir, past, past);
    const t0 = Date.now();
    expect(await store.withLock("k", async () => "taken-over", { timeoutMs: 3000 })).toBe("taken-over");
    expect(Date.now() - t0).toBeLessThan(1000);
    await expect(stat(lockDir)).rejects.toThrow(); // released

    // A "live" foreign holder keeps the mtime fresh: we must not steal it, and time out with a hint.
    await mkdir(lockDir);
    const keepAlive = setInterval(() => {
      const now = new Date();
      utimes(lockDir, now, now).catch(() => {});
    }, 300);
    try {
      const err = await rejection(store.withLock("k", async () => "stolen", { timeoutMs: 2600 }));
      expect(err.code).toBe("LOCK_TIMEOUT");
      expect(err.hint).toMatch(/taken over after 2 s/);
      expect(err.exitCode).toBe(5);
    } finally {
      clearInterval(keepAlive);
      await rm(lockDir, { recursive: true, force: true });
    }
  });

  it("uses a 5-minute default lock timeout and 5 s stale window", async () => {
    const { DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_LOCK_STALE_MS, DEFAULT_LOCK_UPDATE_MS } = await import(
      "../../src/stores/file.js"
    );
    expect([DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_LOCK_STALE_MS, DEFAULT_LOCK_UPDATE_MS]).toEqual([300_000, 5_000, 1_000]);
  });

  it("refuses to write once the lock was taken from it, and reports the loss without crashing", async () => {
    const store = open({ lockStaleMs: 2000, lockUpdateMs: 1000 });
    await store.set("k", record({ updatedAt: 1 }));
    const lockDir = store.fileFor("k").replace(/\.json$/, ".lock");
    const err = await rejection(
      store.withLock("k", async () => {
        // Someone else removed our lock and took it (what a takeover after a long stall looks like).
        await rm(lockDir, { recursive: true });
        await mkdir(lockDir);
        // Let the lock's heartbeat (every 1 s) notice; it must report, not throw from a timer.
        for (let waited = 0; !warnings.some((w) => w.includes("was lost")) && waited < 8000; waited += 50)
          await sleep(50);
        await store.set("k", record({ updatedAt: 2 }));
      }),
    );
    expect(err.code).toBe("STORE_ERROR");
    expect(err.message).toMatch(/Lost the lock/);
    expect(err.hint).toBe("This process stalled longer than the lock's stale window; retry the operation.");
    expect(warnings.join("\n")).toMatch(/lock on "k" was lost/);
    expect((await store.get("k"))?.updatedAt).toBe(1);
    // The foreign lock is still there (we did not delete what is not ours).
    expect((await stat(lockDir)).isDirectory()).toBe(true);
    await rm(lockDir, { recursive: true });
    expect(await store.withLock("k", async () => "again", { timeoutMs: 2000 })).toBe("again");
  });

  it("under a lost lock, writes only when the ifCurrent precondition holds for the stored record", async () => {
    const store = open();
    await store.set("k", record({ updatedAt: 1, refreshToken: "rt-1" }));
    const lockDir = store.fileFor("k").replace(/\.json$/, ".lock");
    await store.withLock("k", async () => {
      await rm(lockDir, { recursive: true });
      // Unchanged since we read it: our rotated refresh token is the only valid one, keep it.
      await store.set("k", record({ updatedAt: 2, refreshToken: "rt-2" }), {
        ifCurrent: (cur) => cur?.refreshToken === "rt-1",
      });
    });
    expect((await store.get("k"))?.refreshToken).toBe("rt-2");
    expect(warnings.join("\n")).toMatch(/unchanged since it was read: saving/);
    const err = await rejection(
      store.withLock("k", async () => {
        await rm(lockDir, { recursive: true });
        // Someone else moved on (the stored record is no longer what we started from): refuse.
        await store.set("k", record({ updatedAt: 3, refreshToken: "rt-x" }), {
          ifCurrent: (cur) => cur?.refreshToken === "rt-1",
        });
      }),
    );
    expect(err.message).toMatch(/Lost the lock/);
    expect((await store.get("k"))?.refreshToken).toBe("rt-2");
  });

  it("refuses to write when the lock vanished even before the update tick noticed", async () => {
    const store = open();
    await store.set("k", record({ updatedAt: 1 }));
    const lockDir = store.fileFor("k").replace(/\.json$/, ".lock");
    const err = await rejection(
      store.withLock("k", async () => {
        await rm(lockDir, { recursive: true });
        await store.set("k", record({ updatedAt: 2 }));
      }),
    );
    expect(err.message).toMatch(/Lost the lock/);
    expect((await store.get("k"))?.updatedAt).toBe(1);
    // Writes outside withLock, or from a task that outlived it, are not fenced.
    let late!: Promise<void>;
    await store.withLock("k", async () => {
      late = sleep(30).then(() => store.set("k", record({ updatedAt: 4 })));
    });
    await late;
    expect((await store.get("k"))?.updatedAt).toBe(4);
    await store.set("k", record({ updatedAt: 3 }));
    expect((await store.get("k"))?.updatedAt).toBe(3);
  });
});
