/**
 * Who holds a lock, and when it is provably dead (stores/filelock.ts selfIdentity, holderState and the takeover
 * they decide), judged from a proc file system of the test's own — a directory passed as `procRoot` with the files
 * the module reads (sys/kernel/random/boot_id, self/ns/pid, <pid>/stat) — and from a kill(pid, 0) the test answers.
 * So a zombie holder, a reused pid (same pid, another start time), another boot, another pid namespace, a damaged
 * stat line and a machine without /proc are each one directory, on any host. The real /proc and real dead children
 * are in filelock.test.ts.
 */
import * as nodeFs from "node:fs/promises";
import { mkdir, readdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type DirLockOptions,
  type HeldLock,
  holderState,
  type ProcessIdentity,
  type ProcessView,
  selfIdentity,
  systemProcesses,
  tryAcquire,
} from "../../src/stores/filelock.js";
import { cleanup, tempDir } from "./helpers.js";

const BOOT = "0b5e6d2c-1f0a-4c55-9d1e-6a7b8c9d0e1f";
const PIDNS = "pid:[4026531836]";
const MY_START = "1000";
/** A pid of the fake /proc other than this process. */
const OTHER = 4242;

let dir: string;
let procRoot: string;
let lockPath: string;
let warnings: string[];
const held: HeldLock[] = [];

beforeEach(async () => {
  dir = await tempDir("hpauth-holders-");
  procRoot = join(dir, "proc");
  lockPath = join(dir, "locks", "k.lock");
  await mkdir(join(dir, "locks"));
  warnings = [];
});
afterEach(async () => {
  for (const h of held.splice(0)) await h.release().catch(() => undefined);
  await cleanup(dir);
});

/** A /proc/<pid>/stat line: the command name in parentheses (it may hold both), then state, …, start time (field 22). */
function statLine(pid: number, state: string, start: string, comm = "node"): string {
  const between = Array.from({ length: 18 }, (_, i) => String(i + 7)).join(" ");
  return `${pid} (${comm}) ${state} ${between} ${start} 4096 120 18446744073709551615\n`;
}

async function writeProc(path: string, text: string) {
  await mkdir(join(procRoot, path, ".."), { recursive: true });
  await writeFile(join(procRoot, path), text);
}

/** A proc file system with this process in it (and whatever `procs` add), and a kill(pid, 0) that records calls. */
async function fakeProc(
  options: { boot?: string; pidns?: string; self?: string | false; procs?: Record<number, string> } = {},
): Promise<ProcessView & { probes: number[] }> {
  await mkdir(procRoot, { recursive: true });
  if (options.boot !== undefined) await writeProc("sys/kernel/random/boot_id", `${options.boot}\n`);
  if (options.pidns !== undefined) {
    await mkdir(join(procRoot, "self", "ns"), { recursive: true });
    await symlink(options.pidns, join(procRoot, "self", "ns", "pid")); // a dangling link, as in /proc
  }
  if (options.self !== false) {
    await writeProc(`${process.pid}/stat`, options.self ?? statLine(process.pid, "R", MY_START, "node (vitest) x"));
  }
  for (const [pid, text] of Object.entries(options.procs ?? {})) await writeProc(`${pid}/stat`, text);
  const probes: number[] = [];
  return {
    procRoot,
    probes,
    kill: (pid, signal) => {
      expect(signal).toBe(0); // a probe, never a signal
      probes.push(pid);
      if (pid !== process.pid) throw Object.assign(new Error("no such process"), { code: "ESRCH" });
    },
  };
}

const linuxProc = (procs: Record<number, string> = {}) => fakeProc({ boot: BOOT, pidns: PIDNS, procs });

/** The identity this process has under the fake /proc. */
const me = (): ProcessIdentity => ({ pid: process.pid, host: hostname(), boot: BOOT, pidns: PIDNS, start: MY_START });

describe("selfIdentity", () => {
  it("reads host name, boot id (trimmed), pid namespace and this process's start time", async () => {
    const view = await linuxProc();
    expect(await selfIdentity(view)).toStrictEqual(me());
  });

  it("reads once per view: a later change of /proc does not change who this process is", async () => {
    const view = await linuxProc();
    const first = await selfIdentity(view);
    await writeProc("sys/kernel/random/boot_id", "another-boot\n");
    expect(await selfIdentity(view)).toBe(first);
    expect(first.boot).toBe(BOOT);
  });

  it("the real /proc (Linux) gives the real values", async () => {
    if (process.platform !== "linux") return;
    const id = await selfIdentity(systemProcesses);
    const { readFileSync, readlinkSync } = await import("node:fs");
    const fields = readFileSync(`/proc/${process.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    expect(id).toStrictEqual({
      pid: process.pid,
      host: hostname(),
      boot: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(),
      pidns: readlinkSync("/proc/self/ns/pid"),
      start: fields[19],
    });
    expect(await selfIdentity()).toBe(id); // the default view is the system's
  });

  it.each([
    ["no proc file system at all", {}],
    ["a boot id but no pid namespace", { boot: BOOT }],
    ["no stat file for this process", { boot: BOOT, pidns: PIDNS, self: false as const }],
  ])("%s: host name and pid only", async (_, options) => {
    const view = await fakeProc(options);
    expect(await selfIdentity(view)).toStrictEqual({ pid: process.pid, host: hostname() });
  });

  it("a stat line without a start time: boot and namespace, no start time", async () => {
    const view = await fakeProc({ boot: BOOT, pidns: PIDNS, self: `${process.pid} (node) R 1 2 3\n` });
    expect(await selfIdentity(view)).toStrictEqual({ pid: process.pid, host: hostname(), boot: BOOT, pidns: PIDNS });
  });
});

describe("holderState, from /proc", () => {
  it.each([
    ["running, same start time", statLine(OTHER, "R", "5555"), "alive"],
    ["sleeping, a command name with spaces and parentheses", statLine(OTHER, "S", "5555", "a) (b c"), "alive"],
    ["a zombie", statLine(OTHER, "Z", "5555"), "dead"],
    ["dead (X)", statLine(OTHER, "X", "5555"), "dead"],
    ["another process under the same pid (another start time)", statLine(OTHER, "S", "5556"), "dead"],
    ["a stat line cut short (no start time)", `${OTHER} (node) S 1 2 3\n`, "unknown"],
    ["an empty stat file", "", "unknown"],
  ])("a holder whose pid is %s: %s", async (_, line, state) => {
    const view = await linuxProc({ [OTHER]: line });
    expect(await holderState({ ...me(), pid: OTHER, start: "5555" }, view)).toBe(state);
    expect(view.probes).toEqual([]); // /proc answered: no kill(pid, 0)
  });

  it("a pid with no /proc entry is dead; one whose entry cannot be read is unknown", async () => {
    const view = await linuxProc();
    expect(await holderState({ ...me(), pid: OTHER }, view)).toBe("dead");
    await mkdir(join(procRoot, String(OTHER), "stat"), { recursive: true }); // EISDIR, not ENOENT
    expect(await holderState({ ...me(), pid: OTHER }, view)).toBe("unknown");
  });

  it("a holder that recorded no start time is alive while its pid runs", async () => {
    const view = await linuxProc({ [OTHER]: statLine(OTHER, "S", "5555") });
    const { start: _s, ...noStart } = { ...me(), pid: OTHER };
    expect(await holderState(noStart, view)).toBe("alive");
  });

  it.each([
    ["another boot", { boot: "another-boot" }],
    ["another pid namespace (a container)", { pidns: "pid:[4026532999]" }],
    ["another host", { host: `${hostname()}-elsewhere` }],
    ["no boot id (a holder without /proc)", { boot: undefined }],
  ])("a holder from %s is unknown, even with its pid gone", async (_, where) => {
    const view = await linuxProc();
    expect(await holderState({ ...me(), pid: OTHER, ...where }, view)).toBe("unknown");
  });
});

describe("holderState, without /proc: kill(pid, 0)", () => {
  it("a running pid is alive, a gone one (ESRCH) dead, another user's (EPERM) alive", async () => {
    const view = await fakeProc();
    const here = { pid: process.pid, host: hostname() };
    expect(await holderState(here, view)).toBe("alive");
    expect(await holderState({ ...here, pid: OTHER }, view)).toBe("dead");
    expect(view.probes).toEqual([process.pid, OTHER]);
    const eperm: ProcessView = {
      procRoot,
      kill: () => {
        throw Object.assign(new Error("not permitted"), { code: "EPERM" });
      },
    };
    expect(await holderState({ ...here, pid: OTHER }, eperm)).toBe("alive");
  });

  it("a holder that recorded a start time is judged by kill alone here too", async () => {
    const view = await fakeProc();
    expect(await holderState({ pid: OTHER, host: hostname(), start: "5555" }, view)).toBe("dead");
    expect(await holderState({ pid: process.pid, host: hostname(), start: "1" }, view)).toBe("alive");
  });

  it("the real kill(pid, 0), with no /proc to read", async () => {
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" });
    await new Promise((r) => child.once("exit", r));
    const view: ProcessView = { procRoot: join(dir, "no-proc"), kill: systemProcesses.kill };
    const here = { pid: process.pid, host: hostname() };
    expect(await holderState(here, view)).toBe("alive");
    expect(await holderState({ ...here, pid: child.pid! }, view)).toBe("dead");
  });
});

describe("tryAcquire judges the holder it finds", () => {
  const options = (processes: ProcessView, extra: Partial<DirLockOptions> = {}): DirLockOptions => ({
    fs: nodeFs,
    staleMs: 60_000,
    updateMs: 60_000,
    warn: (m) => warnings.push(m),
    onCompromised: () => undefined,
    processes,
    ...extra,
  });
  const leftovers = async () => (await readdir(join(dir, "locks"))).filter((n) => n !== "k.lock").sort();

  async function plant(owner: Record<string, unknown>, ageMs = 0) {
    await mkdir(lockPath);
    await writeFile(join(lockPath, "owner"), JSON.stringify(owner));
    if (ageMs) {
      const t = new Date(Date.now() - ageMs);
      await utimes(lockPath, t, t);
    }
  }
  const nonce = "c".repeat(32);

  it("the lock it takes names this process as the view sees it", async () => {
    const view = await linuxProc();
    const got = await tryAcquire(lockPath, options(view, { now: () => 1_234_567 }));
    if (!("held" in got)) throw new Error("expected the lock");
    held.push(got.held);
    const owner = JSON.parse(await readFile(join(lockPath, "owner"), "utf8"));
    expect(owner).toEqual({ ...me(), nonce: got.held.owner.nonce, at: 1_234_567 });
  });

  it("a reused pid (same pid, another start time) is taken over at once", async () => {
    const view = await linuxProc({ [OTHER]: statLine(OTHER, "S", "9999") });
    await plant({ ...me(), pid: OTHER, start: "5555", nonce, at: 0 });
    expect("held" in (await tryAcquire(lockPath, options(view)))).toBe(true);
    expect(await leftovers()).toEqual([`k.lock.dead-${nonce}`]);
  });

  it("a live holder (same start time) keeps its lock", async () => {
    const view = await linuxProc({ [OTHER]: statLine(OTHER, "S", "5555") });
    await plant({ ...me(), pid: OTHER, start: "5555", nonce, at: 0 });
    expect(await tryAcquire(lockPath, options(view))).toEqual({ busy: true });
    expect(await leftovers()).toEqual([]);
  });

  it.each([
    ["another boot", { boot: "another-boot" }],
    ["another pid namespace", { pidns: "pid:[4026532999]" }],
  ])("a holder from %s is waited for until its lock is stale, then taken over", async (_, where) => {
    const view = await linuxProc();
    await plant({ ...me(), pid: OTHER, nonce, at: 0, ...where }, 10_000);
    expect(await tryAcquire(lockPath, options(view, { staleMs: 20_000 }))).toEqual({ busy: true });
    expect("held" in (await tryAcquire(lockPath, options(view, { staleMs: 5_000 })))).toBe(true);
    expect(await leftovers()).toEqual([`k.lock.dead-${nonce}`]);
  });

  it("stale means older than staleMs: a lock exactly staleMs old is not yet", async () => {
    const view = await linuxProc({ [OTHER]: statLine(OTHER, "S", "5555") });
    await plant({ ...me(), pid: OTHER, start: "5555", nonce, at: 0 });
    const t = new Date(1_700_000_000_000);
    await utimes(lockPath, t, t);
    const mtime = (await stat(lockPath)).mtimeMs;
    expect(await tryAcquire(lockPath, options(view, { staleMs: 5_000, now: () => mtime + 5_000 }))).toEqual({
      busy: true,
    });
    expect("held" in (await tryAcquire(lockPath, options(view, { staleMs: 5_000, now: () => mtime + 5_001 })))).toBe(
      true,
    );
  });

  it.each([
    ["a nonce that is not a string", { nonce: 7 }],
    ["no nonce", { nonce: undefined }],
    ["a pid that is not a number", { pid: String(OTHER) }],
    ["no host", { host: undefined }],
  ])("an owner file with %s names no holder: not taken while fresh, taken as owner-less once stale", async (_, bad) => {
    const view = await linuxProc(); // OTHER has no /proc entry: dead, were the owner file believed
    await plant({ ...me(), pid: OTHER, nonce, at: 0, ...bad });
    expect(await tryAcquire(lockPath, options(view))).toEqual({ busy: true });
    const { ino } = await stat(lockPath);
    const t = new Date(Date.now() - 10_000);
    await utimes(lockPath, t, t);
    expect("held" in (await tryAcquire(lockPath, options(view, { staleMs: 5_000 })))).toBe(true);
    expect(await leftovers()).toEqual([`k.lock.stale-${ino}`]);
  });

  it.each([
    ["a nonce longer than 32 characters is cut to 32", "0123456789abcdef".repeat(3), `0123456789abcdef`.repeat(2)],
    ["a nonce of no letters or digits becomes x", "/../-", "x"],
  ])("the tombstone's name: %s", async (_, weird, name) => {
    const view = await linuxProc();
    await plant({ ...me(), pid: OTHER, nonce: weird, at: 0 });
    expect("held" in (await tryAcquire(lockPath, options(view)))).toBe(true);
    expect(await leftovers()).toEqual([`k.lock.dead-${name}`]);
    const tomb = join(dir, "locks", `k.lock.dead-${name}`);
    // Never empty, private, dated now.
    expect((await stat(join(tomb, "taken-over"))).mode & 0o777).toBe(0o600);
    await rm(tomb, { recursive: true });
  });
});
