/**
 * The file store's lock (stores/filelock.ts) called directly, on real directories: who counts as dead, what a
 * takeover leaves, what the holder's heartbeat and release do, and that a holder that lost its lock never touches
 * its successor's. The store-level behaviour (waiting, takeover races through FileTokenStore) is in
 * file-durability.test.ts.
 */
import * as nodeFs from "node:fs/promises";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isLockLeftover } from "../../src/stores/file-names.js";
import {
  type DirLockOptions,
  type HeldLock,
  holderState,
  selfIdentity,
  tryAcquire,
} from "../../src/stores/filelock.js";
import { cleanup, tempDir } from "./helpers.js";

const linux = process.platform === "linux";

let dir: string;
let lockPath: string;
let warnings: string[];
let compromised: Error[];
const held: HeldLock[] = [];

beforeEach(async () => {
  dir = await tempDir("hpauth-lock-");
  lockPath = join(dir, "k.lock");
  warnings = [];
  compromised = [];
});
afterEach(async () => {
  for (const h of held.splice(0)) await h.release().catch(() => undefined);
  await cleanup(dir);
});

const options = (extra: Partial<DirLockOptions> = {}): DirLockOptions => ({
  fs: nodeFs,
  staleMs: 60_000,
  updateMs: 60_000,
  warn: (m) => warnings.push(m),
  onCompromised: (e) => compromised.push(e),
  ...extra,
});

async function acquire(extra: Partial<DirLockOptions> = {}): Promise<HeldLock> {
  const got = await tryAcquire(lockPath, options(extra));
  if (!("held" in got)) throw new Error("expected to get the lock");
  held.push(got.held);
  return got.held;
}

/** A lock directory as another holder would leave it. */
async function plantLock(owner: Record<string, unknown> | undefined, ageMs = 0) {
  await mkdir(lockPath);
  if (owner) await writeFile(join(lockPath, "owner"), JSON.stringify(owner));
  if (ageMs > 0) {
    const t = new Date(Date.now() - ageMs);
    await utimes(lockPath, t, t);
  }
}

async function deadPid(): Promise<number> {
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" });
  await new Promise((r) => child.once("exit", r));
  return child.pid!;
}

const leftovers = async () => (await readdir(dir)).filter((n) => n !== "k.lock").sort();

describe("holderState", () => {
  it("a holder on another host, boot or pid namespace is unknown, whatever its pid", async () => {
    const me = await selfIdentity();
    expect(await holderState({ ...me, host: `${me.host}-other` })).toBe("unknown");
    expect(await holderState({ ...me, boot: "another-boot" })).toBe("unknown");
    expect(await holderState({ ...me, pidns: "pid:[1]" })).toBe("unknown");
  });

  it.each([0, -1, 1.5, Number.NaN])("a pid of %d is unknown, not probed", async (pid) => {
    expect(await holderState({ ...(await selfIdentity()), pid })).toBe("unknown");
  });

  it("this process is alive; an exited pid is dead", async () => {
    expect(await holderState(await selfIdentity())).toBe("alive");
    expect(await holderState({ ...(await selfIdentity()), pid: await deadPid() })).toBe("dead");
  });

  it.runIf(linux)("a live pid with another start time is another process: the holder is dead", async () => {
    const me = await selfIdentity();
    expect(me.start).toMatch(/^\d+$/);
    expect(await holderState({ ...me, start: "1" })).toBe("dead");
    // Without a start time to compare, a live pid is alive.
    const { start: _s, ...noStart } = me;
    expect(await holderState(noStart)).toBe("alive");
  });
});

describe("isLockLeftover", () => {
  it.each([
    ["k.lock.dead-0123abcdef", "tombstone"],
    ["k.lock.stale-123456", "tombstone"],
    ["k.lock.released-0123abcdef", "released"],
    ["k.lock.new-0123abcdef", "released"],
    ["k.lock", undefined],
    ["k.json", undefined],
    ["k.lock.dead-", undefined],
    ["k.lock.dead-01.tmp", undefined],
    ["k.lock.released-xyz", undefined],
    ["k.lock.not-a-directory-12", undefined],
    ["k.lockXdead-01", undefined],
  ])("%s → %s", (name, kind) => {
    expect(isLockLeftover(name)).toBe(kind);
  });
});

describe("tryAcquire", () => {
  it("takes a free lock, born with an owner file (0600) naming this process and a fresh nonce", async () => {
    const before = Date.now();
    const lock = await acquire();
    const me = await selfIdentity();
    const owner = JSON.parse(await readFile(join(lockPath, "owner"), "utf8"));
    expect(owner).toEqual({ ...me, nonce: lock.owner.nonce, at: lock.owner.at });
    expect(lock.owner.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(lock.owner.at).toBeGreaterThanOrEqual(before);
    expect((await stat(join(lockPath, "owner"))).mode & 0o777).toBe(0o600);
    expect((await stat(lockPath)).mode & 0o777).toBe(0o700);
    expect(await leftovers()).toEqual([]); // the staging directory became the lock
    expect(await lock.check()).toBe(true);
  });

  it("a live holder's lock is busy, and the attempt leaves nothing behind", async () => {
    await plantLock({ ...(await selfIdentity()), nonce: "a".repeat(32), at: Date.now() });
    expect(await tryAcquire(lockPath, options())).toEqual({ busy: true });
    expect(await leftovers()).toEqual([]);
    expect(JSON.parse(await readFile(join(lockPath, "owner"), "utf8")).nonce).toBe("a".repeat(32));
  });

  it("a dead holder's lock is taken over at once, into a dated tombstone named by its nonce", async () => {
    await plantLock({ ...(await selfIdentity()), pid: await deadPid(), nonce: "d-e/a.d".repeat(4), at: 0 });
    const lock = await acquire();
    // The nonce as a file name: only its letters and digits.
    expect(await leftovers()).toEqual(["k.lock.dead-deaddeaddeaddead"]);
    const tomb = join(dir, (await leftovers())[0]!);
    expect(Number(await readFile(join(tomb, "taken-over"), "utf8"))).toBeGreaterThan(Date.now() - 60_000);
    expect(Date.now() - (await stat(tomb)).mtimeMs).toBeLessThan(60_000);
    expect(await lock.check()).toBe(true);
  });

  it("an owner-less lock (an older hpauth's) is left alone while fresh, taken over once stale", async () => {
    await plantLock(undefined);
    expect(await tryAcquire(lockPath, options({ staleMs: 5_000 }))).toEqual({ busy: true });
    const { ino } = await stat(lockPath);
    const t = new Date(Date.now() - 6_000);
    await utimes(lockPath, t, t);
    await acquire({ staleMs: 5_000 });
    expect(await leftovers()).toEqual([`k.lock.stale-${ino}`]);
    // Never empty: the tombstone says when it was taken over.
    expect(await readdir(join(dir, `k.lock.stale-${ino}`))).toEqual(["taken-over"]);
  });

  it("a live holder's lock is taken over too once stale (a holder that stopped its heartbeat)", async () => {
    await plantLock({ ...(await selfIdentity()), nonce: "b".repeat(32), at: 0 }, 10_000);
    await acquire({ staleMs: 5_000 });
    expect(await leftovers()).toEqual([`k.lock.dead-${"b".repeat(32)}`]);
  });

  it("an unreadable owner file is not proof of death: busy until stale", async () => {
    await plantLock(undefined);
    await writeFile(join(lockPath, "owner"), '{"pid": 1, "host": "h"'); // half-written
    expect(await tryAcquire(lockPath, options())).toEqual({ busy: true });
    await rm(join(lockPath, "owner"));
    // Fields of the wrong type are no owner either.
    await writeFile(join(lockPath, "owner"), JSON.stringify({ pid: "1", host: "h", nonce: "n" }));
    expect(await tryAcquire(lockPath, options())).toEqual({ busy: true });
  });

  it("a plain file in place of the lock is moved aside with a warning, then the lock is taken", async () => {
    await writeFile(lockPath, "by hand\n");
    const { ino } = await stat(lockPath);
    await acquire();
    expect(await leftovers()).toEqual([`k.lock.not-a-directory-${ino}`]);
    expect(warnings).toEqual([
      `${lockPath} was a plain file, not a lock directory (it made every lock attempt fail); moved it to ${lockPath}.not-a-directory-${ino}.`,
    ]);
  });

  it("an error other than a taken lock is thrown (and the staging directory removed)", async () => {
    const eacces = Object.assign(new Error("denied"), { code: "EACCES" });
    const fs = { ...nodeFs, rename: () => Promise.reject(eacces) } as typeof nodeFs;
    await expect(tryAcquire(lockPath, options({ fs }))).rejects.toBe(eacces);
    expect(await leftovers()).toEqual([]);
  });
});

describe("a held lock", () => {
  it("release removes it and leaves nothing; check() is false afterwards; a second release is a no-op", async () => {
    const lock = await acquire();
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
    expect(await lock.check()).toBe(false);
    await lock.release();
    expect(compromised).toEqual([]);
  });

  it("the heartbeat keeps the lock's mtime fresh while held", async () => {
    await acquire({ updateMs: 30 });
    const t = new Date(Date.now() - 30_000);
    await utimes(lockPath, t, t);
    await new Promise((r) => setTimeout(r, 150));
    expect(Date.now() - (await stat(lockPath)).mtimeMs).toBeLessThan(5_000);
    expect(compromised).toEqual([]);
  });

  it("a lock removed while held is reported once; check() turns false", async () => {
    const lock = await acquire({ updateMs: 20 });
    await rm(lockPath, { recursive: true });
    await new Promise((r) => setTimeout(r, 150));
    expect(compromised.map((e) => e.message)).toEqual(["the lock directory was removed or replaced"]);
    expect(await lock.check()).toBe(false);
  });

  it("a lock replaced while held (taken over): reported, and release leaves the successor's lock alone", async () => {
    const lock = await acquire({ updateMs: 20 });
    await rename(lockPath, join(dir, "old"));
    await plantLock({ ...(await selfIdentity()), nonce: "s".repeat(32), at: Date.now() });
    await new Promise((r) => setTimeout(r, 150));
    expect(compromised).toHaveLength(1);
    expect(await lock.check()).toBe(false);
    await lock.release();
    expect(JSON.parse(await readFile(join(lockPath, "owner"), "utf8")).nonce).toBe("s".repeat(32));
  });

  it("check() sees a takeover before the heartbeat does; release then puts the successor's lock back", async () => {
    const lock = await acquire();
    await rename(lockPath, join(dir, "old"));
    await plantLock({ ...(await selfIdentity()), nonce: "t".repeat(32), at: Date.now() });
    expect(await lock.check()).toBe(false);
    await lock.release(); // renames what is at the path aside, sees it is not ours, renames it back
    expect(JSON.parse(await readFile(join(lockPath, "owner"), "utf8")).nonce).toBe("t".repeat(32));
    expect((await readdir(dir)).filter((n) => n.includes(".released-"))).toEqual([]);
  });

  it("release of a lock already gone is quiet", async () => {
    const lock = await acquire();
    await rm(lockPath, { recursive: true });
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });
});
