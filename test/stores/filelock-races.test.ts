/**
 * The lock's race defences (stores/filelock.ts), each race made to happen: the injected fs runs a step of the
 * test's own right before a chosen call (another process planting a lock, replacing one, removing one), or fails
 * that call with an error code. What is pinned is what is on disk afterwards, what was thrown or warned, and that a
 * holder never moves or touches a lock that is not its own.
 */
import * as nodeFs from "node:fs/promises";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type DirLockOptions,
  type HeldLock,
  type StoreFs,
  selfIdentity,
  tryAcquire,
} from "../../src/stores/filelock.js";
import { cleanup, tempDir } from "./helpers.js";

let dir: string;
let lockPath: string;
let warnings: string[];
let compromised: string[];
/** Every fs call made through `hooked`, as `op path`. */
let calls: string[];
const held: HeldLock[] = [];

type Op = keyof StoreFs;
/** Runs before each fs call; may change the disk, throw (the call fails with it), or wait. */
type Hook = (op: Op, path: string, args: unknown[]) => void | Promise<void>;
let hook: Hook;
/** Runs after each fs call succeeded, before its caller sees the result; may wait. */
let after: Hook;

const real = { ...nodeFs } as unknown as Record<Op, (...a: unknown[]) => Promise<unknown>>;
const hooked: StoreFs = Object.fromEntries(
  (
    [
      "open",
      "readFile",
      "writeFile",
      "rename",
      "rm",
      "readdir",
      "mkdir",
      "stat",
      "lstat",
      "chmod",
      "copyFile",
      "unlink",
      "utimes",
    ] as const
  ).map((op) => [
    op,
    async (...args: unknown[]) => {
      calls.push(`${op} ${String(args[0])}`);
      await hook(op, String(args[0]), args);
      const result = await real[op](...args);
      await after(op, String(args[0]), args);
      return result;
    },
  ]),
) as unknown as StoreFs;

beforeEach(async () => {
  dir = await tempDir("hpauth-lockrace-");
  lockPath = join(dir, "k.lock");
  warnings = [];
  compromised = [];
  calls = [];
  hook = () => undefined;
  after = () => undefined;
});
afterEach(async () => {
  hook = () => undefined;
  after = () => undefined;
  for (const h of held.splice(0)) await h.release().catch(() => undefined);
  await cleanup(dir);
});

const options = (extra: Partial<DirLockOptions> = {}): DirLockOptions => ({
  fs: hooked,
  staleMs: 60_000,
  updateMs: 60_000,
  warn: (m) => warnings.push(m),
  onCompromised: (e) => compromised.push(e.message),
  ...extra,
});

async function acquire(extra: Partial<DirLockOptions> = {}): Promise<HeldLock> {
  const got = await tryAcquire(lockPath, options(extra));
  if (!("held" in got)) throw new Error("expected to get the lock");
  held.push(got.held);
  return got.held;
}

const fail = (code: string) => Object.assign(new Error(`simulated ${code}`), { code });
const nonceAt = async (path = lockPath) => JSON.parse(await readFile(join(path, "owner"), "utf8")).nonce as string;
const leftovers = async () => (await readdir(dir)).filter((n) => n !== "k.lock").sort();
const live = async (nonce: string) => ({ ...(await selfIdentity()), nonce, at: Date.now() });
/** A holder on this host that no longer exists. */
let deadPidValue: number | undefined;
async function deadPid(): Promise<number> {
  if (deadPidValue === undefined) {
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" });
    await new Promise((r) => child.once("exit", r));
    deadPidValue = child.pid!;
  }
  return deadPidValue;
}
const dead = async (nonce: string) => ({ ...(await selfIdentity()), pid: await deadPid(), nonce, at: 0 });

/** Makes a lock directory at `path` (default the lock's) naming `owner` (none: an older hpauth's owner-less lock). */
async function plant(owner: object | undefined, path = lockPath) {
  await mkdir(path);
  if (owner) await writeFile(join(path, "owner"), JSON.stringify(owner));
}
const isTomb = (path: string) => path.startsWith(`${lockPath}.dead-`) || path.startsWith(`${lockPath}.stale-`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await sleep(10);
  }
}

describe("taking a free lock", () => {
  it.each(["ENOTEMPTY", "EEXIST", "ENOTDIR", "EISDIR"])(
    "a lock that appears between the look and the rename (%s) is someone's lock, not an error",
    async (code) => {
      let failed = false;
      hook = (op, path) => {
        if (op === "rename" && path.includes(".new-") && !failed) {
          failed = true;
          throw fail(code);
        }
      };
      await acquire();
      expect(failed).toBe(true);
      expect(await leftovers()).toEqual([]);
    },
  );

  it("an attempt gives up after four rounds when every lock it takes over is replaced by another dead one", async () => {
    let n = 0;
    after = async (op, path) => {
      // The takeover's last step (dating the tombstone): then another dead holder's lock is there again.
      if (op === "utimes" && isTomb(path)) await plant(await dead(`${++n}`.padStart(32, "0")));
    };
    await plant(await dead("0".repeat(32)));
    expect(await tryAcquire(lockPath, options())).toEqual({ busy: true });
    expect(n).toBe(4);
    expect(await leftovers()).toHaveLength(4); // the four dead locks' tombstones, nothing staged left
  });
});

describe("judging a lock", () => {
  it("an error looking at the lock (not ENOENT) is thrown; a lock gone meanwhile is not an error", async () => {
    await plant(await live("a".repeat(32)));
    hook = (op, path) => {
      if (op === "lstat" && path === lockPath) throw fail("EIO");
    };
    await expect(tryAcquire(lockPath, options())).rejects.toMatchObject({ code: "EIO" });
    hook = (op, path) => {
      if (op === "lstat" && path === lockPath) throw fail("ENOENT");
    };
    expect(await tryAcquire(lockPath, options())).toEqual({ busy: true });
    expect(await nonceAt()).toBe("a".repeat(32));
    expect(await leftovers()).toEqual([]);
  });
});

describe("a takeover", () => {
  /** Runs `race` once, right before the takeover's last look at the lock before renaming it. */
  function beforeTakeover(race: () => Promise<void>) {
    let lstats = 0;
    let done = false;
    hook = async (op, path) => {
      // Looks at the lock path per round: the free-lock look, the judge's, then the takeover's.
      if (op === "lstat" && path === lockPath && !done && ++lstats === 3) {
        done = true;
        await race();
      }
    };
  }

  it("a dead lock replaced by a live holder's before the rename is left to that holder", async () => {
    await plant(await dead("d".repeat(32)));
    beforeTakeover(async () => {
      await rm(lockPath, { recursive: true });
      await plant(await live("e".repeat(32)));
    });
    expect(await tryAcquire(lockPath, options())).toEqual({ busy: true });
    expect(await nonceAt()).toBe("e".repeat(32));
    expect(await leftovers()).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it("a dead lock whose directory now names a live holder (same inode) is left to it", async () => {
    await plant(await dead("d".repeat(32)));
    beforeTakeover(async () => writeFile(join(lockPath, "owner"), JSON.stringify(await live("f".repeat(32)))));
    expect(await tryAcquire(lockPath, options())).toEqual({ busy: true });
    expect(await nonceAt()).toBe("f".repeat(32));
    expect(await leftovers()).toEqual([]);
    expect(warnings).toEqual([]);
  });

  /** An owner-less lock (an older hpauth's) last touched 10 s ago: stale for a staleMs of 5 s. */
  async function plantStale() {
    await plant(undefined);
    const t = new Date(Date.now() - 10_000);
    await nodeFs.utimes(lockPath, t, t);
  }

  it("a stale owner-less lock that gained an owner before the rename is left to it", async () => {
    await plantStale();
    beforeTakeover(async () => writeFile(join(lockPath, "owner"), JSON.stringify(await live("g".repeat(32)))));
    expect(await tryAcquire(lockPath, options({ staleMs: 5_000 }))).toEqual({ busy: true });
    expect(await nonceAt()).toBe("g".repeat(32));
    expect(await leftovers()).toEqual([]);
  });

  it("a stale owner-less lock replaced by a fresh one before the rename is left alone", async () => {
    await plantStale();
    const { ino: before } = await stat(lockPath);
    beforeTakeover(async () => {
      await rename(lockPath, join(dir, "elsewhere")); // keeps the old inode from being reused
      await plant(undefined);
    });
    expect(await tryAcquire(lockPath, options({ staleMs: 5_000 }))).toEqual({ busy: true });
    expect((await stat(lockPath)).ino).not.toBe(before);
    expect(await leftovers()).toEqual(["elsewhere"]);
    expect(warnings).toEqual([]);
  });

  it("a dead lock removed before the rename: taken on the next round, no error", async () => {
    await plant(await dead("d".repeat(32)));
    beforeTakeover(() => rm(lockPath, { recursive: true }));
    const lock = await acquire();
    expect(await nonceAt()).toBe(lock.owner.nonce);
    expect(await leftovers()).toEqual([]);
  });

  it.each(["ENOTEMPTY", "EEXIST", "ENOENT", "ENOTDIR"])(
    "a takeover's rename failing with %s (another taker was first) is a retry, not an error",
    async (code) => {
      await plant(await dead("d".repeat(32)));
      hook = (op, path, args) => {
        if (op === "rename" && path === lockPath && isTomb(String(args[1]))) throw fail(code);
      };
      expect(await tryAcquire(lockPath, options())).toEqual({ busy: true });
      expect(await nonceAt()).toBe("d".repeat(32));
    },
  );

  it("a takeover's rename failing otherwise is thrown", async () => {
    await plant(await dead("d".repeat(32)));
    hook = (op, path, args) => {
      if (op === "rename" && path === lockPath && isTomb(String(args[1]))) throw fail("EACCES");
    };
    await expect(tryAcquire(lockPath, options())).rejects.toMatchObject({ code: "EACCES" });
  });

  it.each([
    ["another directory", true],
    ["the same directory naming another holder", false],
  ])("what the rename moved turned out to be %s: put back, with a warning", async (_, newDirectory) => {
    await plant(await dead("d".repeat(32)));
    let raced = false;
    hook = async (op, path, args) => {
      if (op === "rename" && path === lockPath && isTomb(String(args[1])) && !raced) {
        raced = true; // between the last look and the rename: only after a stall of the taker
        if (newDirectory) {
          await rm(lockPath, { recursive: true });
          await plant(await live("h".repeat(32)));
        } else {
          await writeFile(join(lockPath, "owner"), JSON.stringify(await live("h".repeat(32))));
        }
      }
    };
    expect(await tryAcquire(lockPath, options())).toEqual({ busy: true });
    expect(await nonceAt()).toBe("h".repeat(32));
    expect(await leftovers()).toEqual([]);
    expect(warnings).toEqual([`Lock ${lockPath} changed hands during a takeover; left it to its holder.`]);
  });
});

describe("a plain file in place of the lock", () => {
  it.each(["ENOENT", "ENOTDIR", "EISDIR", "ENOTEMPTY", "EEXIST"])(
    "moving it aside failing with %s (someone else did) is a retry, without a warning",
    async (code) => {
      await writeFile(lockPath, "by hand\n");
      hook = (op, path, args) => {
        if (op === "rename" && path === lockPath && String(args[1]).includes(".not-a-directory-")) throw fail(code);
      };
      expect(await tryAcquire(lockPath, options())).toEqual({ busy: true });
      expect(await readFile(lockPath, "utf8")).toBe("by hand\n");
      expect(warnings).toEqual([]);
    },
  );

  it("moving it aside failing otherwise is thrown", async () => {
    await writeFile(lockPath, "by hand\n");
    hook = (op, path, args) => {
      if (op === "rename" && path === lockPath && String(args[1]).includes(".not-a-directory-")) throw fail("EACCES");
    };
    await expect(tryAcquire(lockPath, options())).rejects.toMatchObject({ code: "EACCES" });
  });

  it("what was moved aside turned out to be a lock directory (the file was replaced meanwhile): put back", async () => {
    await writeFile(lockPath, "by hand\n");
    let raced = false;
    hook = async (op, path, args) => {
      if (op === "rename" && path === lockPath && String(args[1]).includes(".not-a-directory-") && !raced) {
        raced = true;
        await rm(lockPath);
        await plant(await live("i".repeat(32)));
      }
    };
    expect(await tryAcquire(lockPath, options())).toEqual({ busy: true });
    expect(await nonceAt()).toBe("i".repeat(32));
    expect(await leftovers()).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it("the file moved aside and gone at once: still the warning, and the lock is taken", async () => {
    await writeFile(lockPath, "by hand\n");
    hook = async (op, path) => {
      if (op === "lstat" && path.includes(".not-a-directory-")) await rm(path, { force: true });
    };
    await acquire();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/was a plain file, not a lock directory/);
  });
});

describe("a held lock", () => {
  const lockCalls = () => calls.filter((c) => c.split(" ")[1]!.startsWith(lockPath));

  it("a heartbeat's utimes failing with ENOENT reports the lock removed; another error is retried", async () => {
    let code = "EPERM";
    let utimes = 0;
    hook = (op, path) => {
      if (op === "utimes" && path === lockPath) {
        utimes++;
        throw fail(code);
      }
    };
    const lock = await acquire({ updateMs: 10 });
    await until(() => utimes >= 3);
    expect(compromised).toEqual([]);
    expect(await lock.check()).toBe(true);
    code = "ENOENT";
    await until(() => compromised.length > 0);
    expect(compromised).toEqual(["the lock directory was removed"]);
    expect(await lock.check()).toBe(false);
  });

  it("once reported lost, it stays lost even if the directory comes back, and release does not move it", async () => {
    const lock = await acquire({ updateMs: 10 });
    await rename(lockPath, join(dir, "aside"));
    await until(() => compromised.length > 0);
    await rename(join(dir, "aside"), lockPath); // put back, e.g. by a taker that saw it changed hands
    expect(await lock.check()).toBe(false);
    calls = [];
    await lock.release();
    expect(lockCalls()).toEqual([]); // not even renamed aside for a moment
    expect(await nonceAt()).toBe(lock.owner.nonce);
    await sleep(50);
    expect(compromised).toHaveLength(1); // reported once
  });

  it("after release nothing touches the path again: not the heartbeat, not a second release", async () => {
    const lock = await acquire({ updateMs: 20 });
    await sleep(50); // a heartbeat or two
    await lock.release();
    calls = [];
    await sleep(100); // several heartbeat periods
    expect(lockCalls()).toEqual([]);
    const successor = await acquire();
    calls = [];
    await lock.release();
    expect(lockCalls()).toEqual([]);
    expect(await successor.check()).toBe(true);
    expect(compromised).toEqual([]);
  });

  it.each([
    ["having read its owner file", "readFile", "after"],
    ["having refreshed its mtime", "utimes", "after"],
    ["about to refresh its mtime, which then fails: gone", "utimes", "before"],
  ] as const)(
    "a heartbeat in flight (%s) when the lock is released touches nothing afterwards",
    async (_, stage, when) => {
      let resume: (() => void) | undefined;
      let armed = false;
      const paused = new Promise<void>((pausedNow) => {
        const pause: Hook = async (op, path) => {
          const target = stage === "readFile" ? join(lockPath, "owner") : lockPath;
          if (armed && !resume && op === stage && path === target) {
            await new Promise<void>((r) => {
              resume = r;
              pausedNow();
            });
          }
        };
        if (when === "after") after = pause;
        else hook = pause;
      });
      const lock = await acquire({ updateMs: 10 });
      armed = true;
      await paused;
      await lock.release();
      // A successor takes the lock meanwhile, except where the refresh is to find it gone.
      const successor = when === "after" ? await acquire() : undefined;
      calls = [];
      resume!();
      await sleep(80);
      expect(lockCalls()).toEqual([]);
      expect(compromised).toEqual([]); // released, not lost
      if (successor) expect(await successor.check()).toBe(true);
    },
  );

  it("release failing to rename (not ENOENT) is thrown, and the lock counts as given up", async () => {
    const lock = await acquire();
    hook = (op, path) => {
      if (op === "rename" && path === lockPath) throw fail("EACCES");
    };
    await expect(lock.release()).rejects.toMatchObject({ code: "EACCES" });
    hook = () => undefined;
    expect(await lock.check()).toBe(false);
  });
});
