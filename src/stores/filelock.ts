/**
 * The file store's cross-process lock: a directory at `<name>.lock` holding an `owner` file that names its holder — pid, host name, boot id, pid namespace and the process's start time (so a
 * reused pid is not mistaken for the holder) plus a random nonce per acquisition. It is prepared under a private
 * name with the owner file inside and renamed into place (atomic; fails if a lock is there), so no lock ever exists
 * without its holder's name. The holder touches the directory's mtime every `updateMs` while it holds the lock.
 *
 * A waiter takes a lock over when its holder is provably dead (same host, boot and pid namespace, and the pid is gone,
 * a zombie, or a different process since its start time differs) — at once, not after a stale window — or when its
 * mtime is older than `staleMs` (a holder on another host or pid namespace, or an older hpauth's owner-less lock).
 *
 * Written by hand, replacing proper-lockfile (which this store used before): proper-lockfile records no holder, so a
 * crashed holder always costs the full stale window; its takeover (`rmdir` then `mkdir`) lets two waiters that both
 * saw a lock stale each remove the other's fresh lock; and its `rmdir` cannot remove a directory with an owner file in
 * it. No maintained library does mkdir-locks with holder identity and a race-free takeover; flock(2), which the kernel
 * releases on death, is not reachable from Node without a native addon.
 *
 * The takeover race (two waiters both judge the same lock dead): a takeover is `rename(lock, tombstone)`, where the
 * tombstone's name is derived from the dead lock itself (its owner's nonce, else its inode) and a tombstone is never
 * empty. The first waiter's rename succeeds. The second waiter's rename — even if by then a third process created a
 * new lock at the path — fails, because rename(2) refuses to replace a non-empty directory (ENOTEMPTY/EEXIST). Each
 * taker also re-reads the lock's identity right before renaming and checks the tombstone's inode after, putting back
 * anything it should not have moved. Tombstones are removed only after `graceMs` (a minute), so a taker would have to
 * stall for that long between two system calls to do harm. Release is a rename to a private name, checked, then
 * removed — a holder that lost its lock never deletes its successor's.
 */
import { randomBytes } from "node:crypto";
import { constants as fsConstants, readFileSync, readlinkSync } from "node:fs";
import * as nodeFs from "node:fs/promises";
import { hostname } from "node:os";

/** The file-system calls the store makes, injectable so tests can observe (or fail) each one. */
export type StoreFs = Pick<
  typeof nodeFs,
  | "open"
  | "readFile"
  | "writeFile"
  | "rename"
  | "rm"
  | "readdir"
  | "mkdir"
  | "stat"
  | "lstat"
  | "chmod"
  | "copyFile"
  | "unlink"
  | "utimes"
>;

export const defaultFs: StoreFs = nodeFs;

/** Who holds a lock (or wrote a temp file). Non-secret; 0600 inside a 0700 directory anyway. */
export interface ProcessIdentity {
  pid: number;
  host: string;
  /** /proc/sys/kernel/random/boot_id (Linux). */
  boot?: string;
  /** The pid namespace (`readlink /proc/self/ns/pid`, Linux): containers sharing a directory see other pids. */
  pidns?: string;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat field 22, Linux). */
  start?: string;
}

export interface LockOwner extends ProcessIdentity {
  nonce: string;
  /** Epoch ms the lock was taken. */
  at: number;
}

/**
 * Where this module learns about processes: the proc file system (Linux) and kill(pid, 0). The default is the real
 * one; tests pass a directory of their own as `procRoot` (a zombie holder, a reused pid, a sandbox without /proc).
 */
export interface ProcessView {
  /** Mount point of the proc file system ("/proc"). Where it is missing (macOS, Windows, some sandboxes) every read
   * fails and a holder is judged by host name, pid and kill(pid, 0) alone. */
  procRoot: string;
  /** `process.kill(pid, 0)`: returns if the pid exists, throws ESRCH if it does not (EPERM: someone else's). */
  kill: (pid: number, signal: 0) => void;
}

export const systemProcesses: ProcessView = { procRoot: "/proc", kill: (pid, signal) => process.kill(pid, signal) };

/** Read once per view: a process's identity does not change while it runs. */
const identities = new WeakMap<ProcessView, ProcessIdentity>();

/** This process's identity (read once). */
export async function selfIdentity(view: ProcessView = systemProcesses): Promise<ProcessIdentity> {
  const known = identities.get(view);
  if (known) return known;
  const id: ProcessIdentity = { pid: process.pid, host: hostname() };
  try {
    id.boot = readFileSync(`${view.procRoot}/sys/kernel/random/boot_id`, "utf8").trim();
    id.pidns = readlinkSync(`${view.procRoot}/self/ns/pid`);
    const start = procStat(readFileSync(`${view.procRoot}/${process.pid}/stat`, "utf8"))?.start;
    if (start) id.start = start;
  } catch {
    // No /proc (not Linux, or a sandbox without it): fall back to host name + pid, judged by kill(pid, 0).
    delete id.boot;
    delete id.pidns;
  }
  identities.set(view, id);
  return id;
}

/** State and start time from the text of /proc/<pid>/stat (the command name may hold spaces and parentheses). */
function procStat(text: string): { state: string; start: string } | undefined {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const start = fields[19]; // field 22 of the whole line
  return state && start ? { state, start } : undefined;
}

/**
 * "dead" only when provable: same host, boot and pid namespace, and the pid is gone, a zombie, or another process.
 * "alive" when the pid is there (a live holder, or a reused pid we cannot tell apart: the stale window decides).
 * "unknown" when the holder lives where we cannot see (another host, container or boot).
 */
export async function holderState(
  owner: ProcessIdentity,
  view: ProcessView = systemProcesses,
): Promise<"dead" | "alive" | "unknown"> {
  const me = await selfIdentity(view);
  if (owner.host !== me.host || owner.boot !== me.boot || owner.pidns !== me.pidns) return "unknown";
  if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0) return "unknown";
  if (me.start !== undefined) {
    // /proc answered for this process: it answers for the holder too.
    let text: string;
    try {
      text = readFileSync(`${view.procRoot}/${owner.pid}/stat`, "utf8");
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "ENOENT" ? "dead" : "unknown";
    }
    const st = procStat(text);
    if (!st) return "unknown";
    if (st.state === "Z" || st.state === "X") return "dead";
    if (owner.start !== undefined && st.start !== owner.start) return "dead";
    return "alive";
  }
  try {
    view.kill(owner.pid, 0);
    return "alive";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH" ? "dead" : "alive";
  }
}

export interface DirLockOptions {
  fs: StoreFs;
  staleMs: number;
  updateMs: number;
  warn: (message: string) => void;
  /** Called once if the lock is found taken over or removed while held. */
  onCompromised: (err: Error) => void;
  /** Who is alive (default: this machine's /proc and kill). */
  processes?: ProcessView;
  /** The clock (default Date.now): when the lock was taken, and how old a holder's last heartbeat is. */
  now?: () => number;
}

export interface HeldLock {
  owner: LockOwner;
  /** Still ours: the directory at the path is the one we created and names us. */
  check(): Promise<boolean>;
  release(): Promise<void>;
}

/** `held`: ours. `busy`: someone else's live (or not provably dead, not yet stale) lock; retry later. */
export type AcquireResult = { held: HeldLock } | { busy: true };

const OWNER = "owner";
const errno = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code;
/** The error's code is one of `codes` (an error without a code is none of them). */
const codeIn = (e: unknown, codes: readonly string[]) => (codes as readonly (string | undefined)[]).includes(errno(e));

async function readOwner(fs: StoreFs, lockPath: string): Promise<LockOwner | undefined> {
  try {
    const doc = JSON.parse(await fs.readFile(`${lockPath}/${OWNER}`, "utf8")) as Partial<LockOwner>;
    if (typeof doc.nonce !== "string" || typeof doc.pid !== "number" || typeof doc.host !== "string") return undefined;
    return doc as LockOwner;
  } catch {
    // Missing (the holder is between mkdir and writing it, or an older hpauth) or half-written: not provable.
    return undefined;
  }
}

/** One attempt to take the lock at `lockPath`, taking over a dead or stale holder's lock on the way. */
export async function tryAcquire(lockPath: string, o: DirLockOptions): Promise<AcquireResult> {
  // The lock is born with its owner file: prepared in a private directory, then renamed into place — rename(2) of a
  // directory fails if the target is a non-empty directory (ENOTEMPTY/EEXIST) or a file (ENOTDIR), so there is no
  // moment where the lock exists without naming its holder (a holder killed there would cost the stale window).
  const now = o.now ?? Date.now;
  const owner: LockOwner = {
    ...(await selfIdentity(o.processes)),
    nonce: randomBytes(16).toString("hex"),
    at: now(),
  };
  const staged = `${lockPath}.new-${owner.nonce}`;
  await o.fs.mkdir(staged, { mode: 0o700 });
  // Removed unless it became the lock (then it is gone from under this name).
  const unstage = () => o.fs.rm(staged, { recursive: true }).catch(() => undefined);
  try {
    await o.fs.writeFile(`${staged}/${OWNER}`, `${JSON.stringify(owner)}\n`, {
      mode: 0o600,
      flag: fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL,
    });
    const ino = (await o.fs.lstat(staged)).ino;
    for (let attempt = 0; attempt < 4; attempt++) {
      // rename(2) would replace an EMPTY directory: an older hpauth's owner-less lock. Look first (that older
      // version racing us within these microseconds is the one case left; its heartbeat would then report the loss).
      const there = await o.fs.lstat(lockPath).catch(() => undefined);
      if (!there) {
        const renamed = await o.fs.rename(staged, lockPath).then(
          () => true,
          (e) => {
            // A lock appeared since the look: judged below like any other.
            if (!codeIn(e, ["ENOTEMPTY", "EEXIST", "ENOTDIR", "EISDIR"])) throw e;
            return false;
          },
        );
        if (renamed) return { held: hold(lockPath, owner, ino, o) };
      }
      await judge(lockPath, o);
    }
  } catch (e) {
    await unstage();
    throw e;
  }
  await unstage();
  return { busy: true };
}

/** Someone else's lock is at `lockPath`: take it over if its holder is provably dead or it is stale. */
async function judge(lockPath: string, o: DirLockOptions): Promise<void> {
  const st = await o.fs.lstat(lockPath).catch((e) => {
    if (errno(e) === "ENOENT") return undefined;
    throw e;
  });
  if (!st) return; // released meanwhile
  if (!st.isDirectory()) {
    await moveAsideNonDirectory(lockPath, st.ino, o);
    return;
  }
  const owner = await readOwner(o.fs, lockPath);
  const dead = owner !== undefined && (await holderState(owner, o.processes)) === "dead";
  const stale = (o.now ?? Date.now)() - st.mtimeMs > o.staleMs;
  if (!dead && !stale) return;
  // An owner-less lock (an older hpauth's) is taken over only when stale.
  const tomb = owner ? `${lockPath}.dead-${safe(owner.nonce)}` : `${lockPath}.stale-${st.ino}`;
  await takeOver(lockPath, tomb, st.ino, owner?.nonce, o);
}

function safe(nonce: string): string {
  return nonce.replace(/[^A-Za-z0-9]/g, "").slice(0, 32) || "x";
}

/**
 * The lock judged is still at `path`: the same directory (inode) naming the same holder (nonce), or still naming
 * none. The nonce too because a directory removed and made again may get the same inode number.
 */
async function isLock(fs: StoreFs, path: string, ino: number, nonce: string | undefined): Promise<boolean> {
  const st = await fs.lstat(path).catch(() => undefined);
  return st?.ino === ino && (await readOwner(fs, path))?.nonce === nonce;
}

async function takeOver(lockPath: string, tomb: string, ino: number, nonce: string | undefined, o: DirLockOptions) {
  // Right before the rename: still the lock judged dead or stale (an owner-less one may have gained an owner: a new
  // holder's lock in a directory that got the same inode).
  if (!(await isLock(o.fs, lockPath, ino, nonce))) return;
  try {
    await o.fs.rename(lockPath, tomb);
  } catch (e) {
    // ENOTEMPTY/EEXIST: another waiter made this tombstone first. ENOENT: the lock went away. Either way, retry.
    if (codeIn(e, ["ENOTEMPTY", "EEXIST", "ENOENT", "ENOTDIR"])) return;
    throw e;
  }
  if (!(await isLock(o.fs, tomb, ino, nonce))) {
    // Not the lock we judged (only possible after a stall longer than the tombstones' grace): put it back.
    await o.fs.rename(tomb, lockPath).catch(() => undefined);
    o.warn(`Lock ${lockPath} changed hands during a takeover; left it to its holder.`);
    return;
  }
  // Never empty (an owner-less lock was), and dated now for the sweep's grace period.
  await o.fs.writeFile(`${tomb}/taken-over`, `${Date.now()}\n`, { mode: 0o600 }).catch(() => undefined);
  const t = new Date();
  await o.fs.utimes(tomb, t, t).catch(() => undefined);
}

/**
 * A plain file (or symlink) where the lock directory belongs — left by a tool or a hand, never by hpauth — made
 * every `mkdir` fail with EEXIST and proper-lockfile's removal with ENOTDIR. Moved aside under a name derived from
 * its inode: a second waiter doing the same cannot move the directory that replaced it (rename(2) will not put a
 * directory over a file).
 */
async function moveAsideNonDirectory(lockPath: string, ino: number, o: DirLockOptions) {
  const aside = `${lockPath}.not-a-directory-${ino}`;
  try {
    await o.fs.rename(lockPath, aside);
  } catch (e) {
    if (codeIn(e, ["ENOENT", "ENOTDIR", "EISDIR", "ENOTEMPTY", "EEXIST"])) return;
    throw e;
  }
  const moved = await o.fs.lstat(aside).catch(() => undefined);
  if (moved?.isDirectory()) {
    await o.fs.rename(aside, lockPath).catch(() => undefined);
    return;
  }
  o.warn(`${lockPath} was a plain file, not a lock directory (it made every lock attempt fail); moved it to ${aside}.`);
}

function hold(lockPath: string, owner: LockOwner, ino: number, o: DirLockOptions): HeldLock {
  let released = false;
  /** Reported lost: stays lost, even if the directory comes back (a taker that put it back). */
  let lost = false;
  let timer: NodeJS.Timeout | undefined;

  // Called at most once: the heartbeat stops there. Not after release: the path is no longer ours to watch.
  const compromised = (why: string) => {
    if (released) return;
    lost = true;
    o.onCompromised(new Error(why));
  };
  // Runs only from its timer, which release() clears: never after release began, unless release began during it.
  const beat = async () => {
    const ours = await isLock(o.fs, lockPath, ino, owner.nonce);
    if (released) return; // released meanwhile: whatever is at the path now may be a successor's
    if (!ours) return compromised("the lock directory was removed or replaced");
    const t = new Date();
    try {
      await o.fs.utimes(lockPath, t, t);
    } catch (e) {
      if (errno(e) === "ENOENT") return compromised("the lock directory was removed");
    }
    schedule();
  };
  const schedule = () => {
    if (released) return;
    timer = setTimeout(() => void beat(), o.updateMs);
    timer.unref();
  };
  schedule();

  return {
    owner,
    check: async () => !lost && !released && (await isLock(o.fs, lockPath, ino, owner.nonce)),
    release: async () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      // Known lost: what is at the path is a successor's; not even moved for a moment.
      if (lost) return;
      // Rename first, then look: we never delete a lock that turned out not to be ours.
      const gone = `${lockPath}.released-${owner.nonce}`;
      try {
        await o.fs.rename(lockPath, gone);
      } catch (e) {
        if (errno(e) === "ENOENT") return;
        throw e;
      }
      if (!(await isLock(o.fs, gone, ino, owner.nonce))) {
        await o.fs.rename(gone, lockPath).catch(() => undefined);
        return;
      }
      await o.fs.rm(gone, { recursive: true });
    },
  };
}
