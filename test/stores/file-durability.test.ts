/**
 * FileTokenStore durability and crash recovery, through its injectable file-system layer (real files, every call
 * observed): the order of write → fsync(file) → rename → fsync(dir); recovery of a record a dead writer got into its
 * temp file but not renamed; a dead lock holder taken over at once (and two takers racing for it); a plain file in
 * place of the lock directory.
 */
import { spawn } from "node:child_process";
import * as nodeFs from "node:fs/promises";
import { mkdir, readdir, readFile, rename, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileTokenStore, type StoreFs } from "../../src/stores/file.js";
import { selfIdentity } from "../../src/stores/filelock.js";
import { cleanup, record, tempDir } from "./helpers.js";

const linux = process.platform === "linux";

let root: string;
let dir: string;
let warnings: string[];
const open = (extra: Partial<ConstructorParameters<typeof FileTokenStore>[0]> = {}) =>
  new FileTokenStore({ dir, onWarning: (m) => warnings.push(m), ...extra });

beforeEach(async () => {
  root = await tempDir();
  dir = join(root, "tokens");
  warnings = [];
});
afterEach(() => cleanup(root));

/** The real fs, with every call that matters for durability appended to `log` as "op name" (names relative). */
function tracingFs(log: string[], overrides: Partial<StoreFs> = {}): StoreFs {
  const rel = (p: unknown) => String(p).slice(dir.length + 1) || ".";
  const fs: StoreFs = {
    ...nodeFs,
    open: (async (path: string, flags?: string | number, mode?: number) => {
      const fh = await nodeFs.open(path, flags, mode);
      const name = rel(path);
      log.push(`open ${name}`);
      return new Proxy(fh, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver);
          if (typeof v !== "function") return v;
          if (prop === "writeFile" || prop === "write" || prop === "sync" || prop === "datasync") {
            return async (...args: unknown[]) => {
              const r = await v.apply(target, args);
              log.push(`${prop === "datasync" ? "sync" : prop === "write" ? "writeFile" : String(prop)} ${name}`);
              return r;
            };
          }
          return v.bind(target);
        },
      });
    }) as StoreFs["open"],
    rename: async (a, b) => {
      await nodeFs.rename(a, b);
      log.push(`rename ${rel(a)} -> ${rel(b)}`);
    },
    ...overrides,
  };
  return fs;
}

describe("durability: the order of writes and syncs", () => {
  it("set() writes the temp file, fsyncs it, renames it over the record, then fsyncs the directory", async () => {
    const log: string[] = [];
    const store = open({ fs: tracingFs(log) });
    await store.set("k", record({ updatedAt: 1 }));
    log.length = 0;
    await store.set("k", record({ updatedAt: 2 }));
    const file = store.fileFor("k").slice(dir.length + 1);
    const ops = log.filter((l) => /^(writeFile|sync|rename) /.test(l) || l === "open .");
    const tmp = ops.find((l) => l.startsWith("writeFile "))?.slice("writeFile ".length);
    expect(tmp).toMatch(/^\..*\.tmp$/);
    // Exactly this sequence: data before its fsync, fsync before the rename that publishes it, then the directory.
    expect(ops).toEqual([`writeFile ${tmp}`, `sync ${tmp}`, `rename ${tmp} -> ${file}`, "open .", "sync ."]);
    expect(JSON.parse(await readFile(store.fileFor("k"), "utf8")).record.updatedAt).toBe(2);
  });

  it("delete() fsyncs the directory after the unlink", async () => {
    const log: string[] = [];
    const store = open({
      fs: tracingFs(log, {
        unlink: async (p) => {
          await nodeFs.unlink(p);
          log.push("unlink");
        },
      }),
    });
    await store.set("k", record());
    log.length = 0;
    await store.delete("k");
    expect(log.filter((l) => l === "unlink" || l === "sync .")).toEqual(["unlink", "sync ."]);
  });

  it("a write that fails before the rename leaves the record as it was and no temp file", async () => {
    const store = open({
      fs: tracingFs([], {
        rename: async () => {
          throw Object.assign(new Error("disk full"), { code: "ENOSPC" });
        },
      }),
    });
    await open().set("k", record({ updatedAt: 1 }));
    await expect(store.set("k", record({ updatedAt: 2 }))).rejects.toMatchObject({ code: "STORE_ERROR" });
    expect((await open().get("k"))?.updatedAt).toBe(1);
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });
});

describe("durability: failures are said, never swallowed; no handle left open", () => {
  const fail = (code: string) => Object.assign(new Error(code), { code });

  it("every file and directory handle opened by set() and delete() is closed", async () => {
    let openHandles = 0;
    const counting: StoreFs = {
      ...nodeFs,
      open: (async (...args: Parameters<typeof nodeFs.open>) => {
        const fh = await nodeFs.open(...args);
        openHandles++;
        const close = fh.close.bind(fh);
        fh.close = async () => {
          openHandles--;
          return close();
        };
        return fh;
      }) as StoreFs["open"],
    };
    const store = open({ fs: counting });
    await store.set("k", record({ updatedAt: 1 }));
    await store.set("k", record({ updatedAt: 2 }));
    await store.delete("k");
    expect(openHandles).toBe(0);
  });

  it("the temp file's name carries this process's pid and start time (what makes a reused pid no alibi)", async () => {
    const log: string[] = [];
    await open({ fs: tracingFs(log) }).set("k", record());
    const me = await selfIdentity();
    const tmp = log.find((l) => l.startsWith("writeFile "));
    expect(tmp).toContain(`-${me.pid}-${me.start ?? "x"}-`);
    if (linux) expect(me.start).toMatch(/^\d+$/);
  });

  it("a failed write names the file and the error code", async () => {
    const store = open({ fs: tracingFs([], { rename: () => Promise.reject(fail("ENOSPC")) }) });
    await expect(store.set("k", record())).rejects.toMatchObject({
      code: "STORE_ERROR",
      message: `Cannot write token file ${store.fileFor("k")} (ENOSPC).`,
    });
  });

  it.each(["EINVAL", "ENOTSUP"])(
    "a directory that refuses fsync (%s, some network mounts) does not fail the write",
    async (code) => {
      const store = open({
        fs: {
          ...nodeFs,
          open: (async (path: string, flags?: number) => {
            const fh = await nodeFs.open(path, flags);
            if (path === dir) fh.sync = () => Promise.reject(fail(code));
            return fh;
          }) as StoreFs["open"],
        },
      });
      await store.set("k", record({ updatedAt: 5 }));
      expect((await open().get("k"))?.updatedAt).toBe(5);
    },
  );

  it("any other fsync failure of the directory fails the write (the rename may not survive a power cut)", async () => {
    const store = open({
      fs: {
        ...nodeFs,
        open: (async (path: string, flags?: number) => {
          const fh = await nodeFs.open(path, flags);
          if (path === dir) fh.sync = () => Promise.reject(fail("EIO"));
          return fh;
        }) as StoreFs["open"],
      },
    });
    await expect(store.set("k", record())).rejects.toMatchObject({ code: "EIO" });
  });

  it("a failed delete is an error naming the file and the code, not a silent logout", async () => {
    const store = open({ fs: tracingFs([], { unlink: () => Promise.reject(fail("EACCES")) }) });
    await store.set("k", record());
    await expect(store.delete("k")).rejects.toMatchObject({
      code: "STORE_ERROR",
      message: `Cannot delete token file ${store.fileFor("k")} (EACCES).`,
      cause: expect.objectContaining({ code: "EACCES" }),
    });
    expect((await open().get("k"))?.refreshToken).toBe("rt-not-a-real-token");
  });

  it("a corrupt record is copied aside before it is replaced; if the copy fails, nothing is replaced", async () => {
    const store = open();
    await store.set("k", record());
    const file = store.fileFor("k");
    await writeFile(file, "{not json", { mode: 0o600 });
    const failing = open({ fs: tracingFs([], { copyFile: () => Promise.reject(fail("ENOSPC")) }) });
    await expect(failing.set("k", record({ updatedAt: 9 }))).rejects.toMatchObject({
      code: "STORE_ERROR",
      message: `Token file ${file} is corrupt and could not be preserved before overwriting.`,
      cause: expect.objectContaining({ code: "ENOSPC" }),
    });
    expect(await readFile(file, "utf8")).toBe("{not json");
    // A copy made by a concurrent writer in the same millisecond (EEXIST) is as good as ours.
    const raced = open({
      fs: tracingFs([], {
        copyFile: async (from, to, mode) => {
          await nodeFs.copyFile(from, to, mode); // the other writer's copy, same name, same bytes
          throw fail("EEXIST");
        },
      }),
    });
    await raced.set("k", record({ updatedAt: 9 }));
    expect((await open().get("k"))?.updatedAt).toBe(9);
    await writeFile(file, "{not json", { mode: 0o600 });
    await store.set("k", record({ updatedAt: 10 }));
    const copy = (await readdir(dir)).find((n) => n.includes(".json.corrupt-"));
    expect(await readFile(join(dir, copy!), "utf8")).toBe("{not json");
    expect(warnings.join("\n")).toContain(`Token file ${file} was corrupt (`);
    expect(warnings.join("\n")).toContain(`); kept a copy at ${join(dir, copy!)} and replaced it.`);
  });
});

/** Leaves a complete temp file for `rec` as a writer killed between its fsync and its rename would. */
async function strandedWrite(key: string, rec: ReturnType<typeof record>): Promise<string> {
  let stranded = "";
  const store = open({
    fs: tracingFs([], {
      rename: async (a) => {
        stranded = String(a);
        throw Object.assign(new Error("killed"), { code: "EIO" });
      },
      rm: async () => {}, // the dead writer cleans nothing up
    }),
  });
  await expect(store.set(key, rec)).rejects.toThrow();
  expect(stranded).toMatch(/\.tmp$/);
  return stranded;
}

/** Renames a temp file as if written by another process: `pid` (default: ours) started at `start`. */
async function asWrittenBy(tmp: string, writer: { pid?: number; start: string }): Promise<string> {
  const renamed = tmp.replace(
    /-(\d+)-(\d+|x)-([0-9a-f]{16})\.tmp$/,
    (_m, _pid, _start, rand) => `-${writer.pid ?? process.pid}-${writer.start}-${rand}.tmp`,
  );
  await rename(tmp, renamed);
  return renamed;
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" });
  await new Promise((r) => child.on("close", r));
  return child.pid ?? 0;
}

describe.runIf(linux)("recovering a record stranded in a temp file by a dead writer", () => {
  it("recovers a complete, newer record of the same key under the lock (a pid reused by a live process is no alibi)", async () => {
    const store = open();
    await store.set("k", record({ refreshToken: "rt-1", updatedAt: 1 }));
    // Our own pid with another start time: the pid was reused, the writer is gone.
    const tmp = await asWrittenBy(await strandedWrite("k", record({ refreshToken: "rt-2", updatedAt: 2 })), {
      start: "1",
    });
    // A plain read does not move anything (no lock held)...
    expect((await open().get("k"))?.refreshToken).toBe("rt-1");
    // ...the next holder of the lock finds the rotated refresh token.
    const seen = await open().withLock("k", async () => (await store.get("k"))?.refreshToken);
    expect(seen).toBe("rt-2");
    await expect(stat(tmp)).rejects.toThrow();
    expect(warnings.join("\n")).toMatch(/Recovered the token record for "k"/);
    expect(warnings.join("\n")).not.toContain("rt-2");
    expect(JSON.parse(await readFile(store.fileFor("k"), "utf8")).record.refreshToken).toBe("rt-2");
  });

  it("recovers a first write (nothing stored yet) of a dead process", async () => {
    await asWrittenBy(await strandedWrite("k", record({ refreshToken: "rt-login", updatedAt: 5 })), {
      pid: await deadPid(),
      start: "1",
    });
    expect(await open().withLock("k", async () => (await open().get("k"))?.refreshToken)).toBe("rt-login");
  });

  it("never resurrects an older record: a stranded write superseded by a later one is deleted", async () => {
    const store = open();
    await store.set("k", record({ refreshToken: "rt-1", updatedAt: 1 }));
    const tmp = await asWrittenBy(await strandedWrite("k", record({ refreshToken: "rt-2", updatedAt: 2 })), {
      start: "1",
    });
    await store.set("k", record({ refreshToken: "rt-3", updatedAt: 3 })); // someone moved on meanwhile
    expect(await store.withLock("k", async () => (await store.get("k"))?.refreshToken)).toBe("rt-3");
    await expect(stat(tmp)).rejects.toThrow();

    // Based on the stored record but not newer (a clock that went back): not recovered either.
    const tmp2 = await asWrittenBy(await strandedWrite("k", record({ refreshToken: "rt-old", updatedAt: 2 })), {
      start: "1",
    });
    expect(await store.withLock("k", async () => (await store.get("k"))?.refreshToken)).toBe("rt-3");
    await expect(stat(tmp2)).rejects.toThrow();
  });

  it("leaves a live writer's temp file alone, and waits for it to be abandoned if the writer is unknown", async () => {
    const store = open({ tempMaxAgeMs: 60_000 });
    await store.set("k", record({ refreshToken: "rt-1", updatedAt: 1 }));
    const me = await selfIdentity();
    // Written by this very process (a write in progress here): untouched.
    const mine = await strandedWrite("k", record({ refreshToken: "rt-2", updatedAt: 2 }));
    expect(await store.withLock("k", async () => (await store.get("k"))?.refreshToken)).toBe("rt-1");
    expect((await stat(mine)).isFile()).toBe(true);
    // Written on another host (cannot be judged): untouched while young, recovered once older than tempMaxAgeMs.
    const foreign = mine.replace(/\.json\.[0-9a-f]{12}-/, ".json.0123456789ab-");
    await rename(mine, foreign);
    expect(await store.withLock("k", async () => (await store.get("k"))?.refreshToken)).toBe("rt-1");
    const past = new Date(Date.now() - 120_000);
    await utimes(foreign, past, past);
    expect(await store.withLock("k", async () => (await store.get("k"))?.refreshToken)).toBe("rt-2");
    expect(me.pid).toBe(process.pid);
  });

  it("keeps a partial temp file aside (it may hold a refresh token), drops an empty one", async () => {
    const store = open();
    await store.set("k", record({ refreshToken: "rt-1", updatedAt: 1 }));
    const partial = await asWrittenBy(await strandedWrite("k", record({ refreshToken: "rt-2", updatedAt: 2 })), {
      start: "1",
    });
    const whole = await readFile(partial, "utf8");
    await writeFile(partial, whole.slice(0, whole.indexOf('"updatedAt"')));
    const empty = await asWrittenBy(await strandedWrite("k", record({ updatedAt: 3 })), { start: "2" });
    await writeFile(empty, "");
    expect(await store.withLock("k", async () => (await store.get("k"))?.refreshToken)).toBe("rt-1");
    const names = await readdir(dir);
    expect(names.filter((n) => n.endsWith(".tmp"))).toEqual([]);
    const aside = names.filter((n) => n.includes(".corrupt-"));
    expect(aside).toHaveLength(1);
    expect(await readFile(join(dir, aside[0]!), "utf8")).toContain('"refreshToken"');
    expect(warnings.join("\n")).toMatch(/incomplete temp file for "k"/);
  });

  it("a logout (delete) is not undone by a stranded first write, and opening the store keeps a recoverable one", async () => {
    await asWrittenBy(await strandedWrite("gone", record({ refreshToken: "rt-x", updatedAt: 1 })), { start: "1" });
    await open().delete("gone");
    expect(await open().withLock("gone", async () => open().get("gone"))).toBeUndefined();

    // A store opening the directory long after the crash (tempMaxAgeMs 0: every temp file counts as old) must not
    // sweep away the only copy of a rotated refresh token; the next lock holder recovers it.
    await open().set("k", record({ refreshToken: "rt-1", updatedAt: 1 }));
    await asWrittenBy(await strandedWrite("k", record({ refreshToken: "rt-2", updatedAt: 2 })), { start: "1" });
    const late = open({ tempMaxAgeMs: 0 });
    expect(await late.list()).toEqual(["k"]);
    expect(await late.withLock("k", async () => (await late.get("k"))?.refreshToken)).toBe("rt-2");
  });
});

describe("the lock names its holder", () => {
  const lockDirOf = (store: FileTokenStore, key: string) => store.fileFor(key).replace(/\.json$/, ".lock");

  it("writes pid, host, boot id and start time into the lock, and removes it on release", async () => {
    const store = open();
    const lockDir = lockDirOf(store, "k");
    const owner = await store.withLock("k", async () => JSON.parse(await readFile(join(lockDir, "owner"), "utf8")));
    const me = await selfIdentity();
    expect(owner).toMatchObject({ pid: process.pid, host: me.host, nonce: expect.stringMatching(/^[0-9a-f]{32}$/) });
    if (linux) {
      expect(owner.boot).toMatch(/^[0-9a-f-]{36}$/);
      expect(owner.start).toMatch(/^\d+$/);
      expect(owner.pidns).toMatch(/^pid:\[\d+\]$/);
    }
    await expect(stat(lockDir)).rejects.toThrow();
  });

  it.runIf(linux)(
    "takes over a fresh lock of a holder on this host that no longer exists at once, not after the stale window",
    async () => {
      const store = open(); // the shipped 5 s stale window
      const lockDir = lockDirOf(store, "k");
      const me = await selfIdentity();
      for (const [i, dead] of [
        { ...me, pid: await deadPid() }, // exited
        { ...me, start: "1" }, // our pid, reused: another process
      ].entries()) {
        await mkdir(lockDir, { recursive: true });
        await writeFile(join(lockDir, "owner"), JSON.stringify({ ...dead, nonce: `${i}`.repeat(32), at: Date.now() }));
        const t0 = Date.now();
        expect(await store.withLock("k", async () => "ours", { timeoutMs: 4000 })).toBe("ours");
        expect(Date.now() - t0).toBeLessThan(1000);
      }
      // A live holder (this process, as another store instance would be) is waited for, not taken over.
      await mkdir(lockDir);
      await writeFile(join(lockDir, "owner"), JSON.stringify({ ...me, nonce: "b".repeat(32), at: Date.now() }));
      await expect(store.withLock("k", async () => "stolen", { timeoutMs: 1500 })).rejects.toMatchObject({
        code: "LOCK_TIMEOUT",
      });
    },
  );

  it.runIf(linux)("two takers racing for one dead holder's lock: exactly one gets it", async () => {
    const me = await selfIdentity();
    const lockPath = open()
      .fileFor("k")
      .replace(/\.json$/, ".lock");
    for (let round = 0; round < 20; round++) {
      await mkdir(lockPath, { recursive: true });
      await writeFile(
        join(lockPath, "owner"),
        JSON.stringify({ ...me, start: "1", nonce: `${round}`.padStart(32, "d"), at: Date.now() }),
      );
      // Separate store instances (no shared in-process queue), as separate processes would be.
      let inside = 0;
      let maxInside = 0;
      const run = () =>
        open().withLock(
          "k",
          async () => {
            inside++;
            maxInside = Math.max(maxInside, inside);
            await new Promise((r) => setTimeout(r, 5));
            inside--;
          },
          { timeoutMs: 4000 },
        );
      await Promise.all([run(), run(), run()]);
      expect(maxInside).toBe(1);
    }
  });

  it.runIf(linux)(
    "a slow taker cannot move the lock a faster one made after taking the dead holder's over",
    async () => {
      const me = await selfIdentity();
      const fast = open();
      const lockPath = fast.fileFor("k").replace(/\.json$/, ".lock");
      await mkdir(lockPath, { recursive: true });
      await writeFile(join(lockPath, "owner"), JSON.stringify({ ...me, start: "1", nonce: "c".repeat(32), at: 0 }));
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let paused!: () => void;
      const atRename = new Promise<void>((r) => {
        paused = r;
      });
      // The slow taker judged the holder dead and checked the lock; it stalls right before its rename.
      const slow = open({
        fs: {
          ...nodeFs,
          rename: async (a, b) => {
            if (String(a) === lockPath && String(b).includes(".lock.dead-")) {
              paused();
              await gate;
            }
            return nodeFs.rename(a, b);
          },
        },
      });
      let slowGot = false;
      const slowRun = slow.withLock("k", async () => {
        slowGot = true;
      });
      await atRename;
      // Meanwhile the fast one takes the dead lock over and holds its own; then the slow one resumes.
      await fast.withLock("k", async () => {
        release();
        await new Promise((r) => setTimeout(r, 200));
        expect(slowGot).toBe(false);
        const owner = JSON.parse(await readFile(join(lockPath, "owner"), "utf8"));
        expect(owner.pid).toBe(process.pid);
        expect(owner.start).toBe(me.start);
      });
      await slowRun; // and gets the lock after the fast one released it
      expect(slowGot).toBe(true);
      expect(warnings.join("\n")).not.toMatch(/was lost/);
    },
  );

  it("moves a plain file found where the lock directory belongs aside, with a warning (not ENOTDIR forever)", async () => {
    const store = open();
    await store.set("k", record());
    const lockPath = lockDirOf(store, "k");
    await writeFile(lockPath, "left by hand\n");
    const t0 = Date.now();
    expect(await store.withLock("k", async () => "locked", { timeoutMs: 3000 })).toBe("locked");
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(warnings.join("\n")).toMatch(/was a plain file, not a lock directory/);
    const aside = (await readdir(dir)).filter((n) => n.includes(".lock.not-a-directory-"));
    expect(aside).toHaveLength(1);
    expect(await readFile(join(dir, aside[0]!), "utf8")).toBe("left by hand\n");
    expect(await store.withLock("k", async () => "again")).toBe("again");
  });
});
