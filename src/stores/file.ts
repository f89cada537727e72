/**
 * The default token store: one JSON file per credential in a private directory, replaced atomically, with a
 * cross-process lock per credential (./filelock.ts: a lock directory naming its holder, whose mtime the holder keeps
 * fresh; a holder on this host that died is taken over at once, any other after `staleMs`). Layout, format and
 * guarantees: docs/stores.md.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash, randomBytes } from "node:crypto";
import { type BigIntStats, constants as fsConstants, lstatSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { homedir as osHomedir } from "node:os";
import { posix, win32 } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { HpauthError } from "../engine/errors.js";
import { baseName, FILE_FORMAT, isLockLeftover, type Parsed, parseFile, TEMP_FILE, tokenDirFor } from "./file-names.js";
import {
  defaultFs,
  type HeldLock,
  holderState,
  type ProcessIdentity,
  type ProcessView,
  type StoreFs,
  selfIdentity,
  tryAcquire,
} from "./filelock.js";
import { DEFAULT_LOCK_TIMEOUT_MS, KeyedMutex } from "./mutex.js";
import { checkRecord, readRecord } from "./record.js";
import type { LockOptions, SetOptions, TokenRecord, TokenStore } from "./types.js";

export type { StoreFs } from "./filelock.js";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Where tokens live by default: `$XDG_DATA_HOME/hpauth/tokens` (else `~/.local/share/hpauth/tokens`) on Linux and
 * other Unixes, `~/Library/Application Support/hpauth/tokens` on macOS, `%LOCALAPPDATA%\hpauth\tokens` on Windows
 * (./file-names.ts tokenDirFor).
 */
export function defaultTokenDir(
  env: Env = process.env,
  platform: NodeJS.Platform = process.platform,
  homedir: string = osHomedir(),
): string {
  return tokenDirFor(env, platform, homedir);
}

export interface FileTokenStoreOptions {
  /** The directory holding one file per credential. Created 0700 if missing. */
  dir: string;
  /** Default wait for a lock when the caller gives none: long enough for someone else's browser login. */
  lockTimeoutMs?: number;
  /**
   * A lock whose holder has not refreshed it for this long is considered dead and taken over, wherever the holder
   * runs (a holder on this host that no longer exists is taken over at once). The holder refreshes it every
   * `lockUpdateMs` while alive, however long it holds the lock. Minimum 2000.
   */
  lockStaleMs?: number;
  /** How often a live holder refreshes its lock (clamped to [250, lockStaleMs / 2]). */
  lockUpdateMs?: number;
  /**
   * A temp file whose writer cannot be proven dead (another host, an older hpauth) is treated as abandoned once
   * older than this: then recovered, set aside or deleted (docs/stores.md, "Interrupted writes"). Also the grace
   * period before takeover tombstones are removed.
   */
  tempMaxAgeMs?: number;
  /** The file-system calls (default `node:fs/promises`); tests inject one to observe the order of writes and syncs. */
  fs?: StoreFs;
  /**
   * Who is alive: where /proc is and how to probe a pid (default this machine's), for the lock's holders and the
   * writers named in temp files alike. Tests pass a proc file system of their own.
   */
  processes?: ProcessView;
  /**
   * Non-fatal problems: permissions tightened, a corrupt file preserved, a lock lost while held. Messages name
   * files and keys, never token values. Default: `process.emitWarning`.
   */
  onWarning?: (message: string) => void;
}

export { DEFAULT_LOCK_TIMEOUT_MS };
export const DEFAULT_LOCK_STALE_MS = 5_000;
export const DEFAULT_LOCK_UPDATE_MS = 1_000;
const DEFAULT_TEMP_MAX_AGE_MS = 60_000;
const IS_WINDOWS = process.platform === "win32";
// Absent on Windows; a symlink planted in place of a token file must not be followed.
const O_NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;

interface Holder {
  key: string;
  lockPath: string;
  lock?: HeldLock;
  lost?: Error;
  released?: boolean;
}

export class FileTokenStore implements TokenStore {
  readonly kind = "file";
  readonly dir: string;
  readonly #mutex = new KeyedMutex();
  readonly #holders = new AsyncLocalStorage<ReadonlyMap<string, Holder>>();
  readonly #lockTimeoutMs: number;
  readonly #staleMs: number;
  readonly #updateMs: number;
  readonly #tempMaxAgeMs: number;
  readonly #warn: (message: string) => void;
  readonly #fs: StoreFs;
  readonly #processes: ProcessView | undefined;
  #ready?: Promise<void>;
  /** Per key, the record get() read last and the identity of its file then (the fast path of get). */
  readonly #seen = new Map<string, { id: FileId; record: TokenRecord }>();
  readonly #files = new Map<string, string>();

  constructor(options: FileTokenStoreOptions) {
    if (!options?.dir) throw new HpauthError("USAGE", "FileTokenStore needs a directory (`dir`).");
    this.dir = options.dir;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    this.#staleMs = Math.max(options.lockStaleMs ?? DEFAULT_LOCK_STALE_MS, 2000);
    this.#updateMs = Math.min(Math.max(options.lockUpdateMs ?? DEFAULT_LOCK_UPDATE_MS, 250), this.#staleMs / 2);
    this.#fs = options.fs ?? defaultFs;
    this.#processes = options.processes;
    this.#tempMaxAgeMs = options.tempMaxAgeMs ?? DEFAULT_TEMP_MAX_AGE_MS;
    this.#warn = options.onWarning ?? ((m) => process.emitWarning(m, { code: "HPAUTH_STORE" }));
  }

  /** The record file for `key`: a readable slug for humans plus a hash, so any string is a safe, distinct name. */
  fileFor(key: string): string {
    return this.#file(key);
  }

  async get(key: string): Promise<TokenRecord | undefined> {
    await this.#ensureDir();
    const file = this.#file(key);
    // The fast path: the record read last is served again while an lstat shows the very same file (FileId);
    // anything else — another process's write, a chmod, a deletion, an edit — takes the full read below, with all
    // its checks. The lstat is synchronous on purpose, and not through the injected fs (it reads and writes
    // nothing): every async fs call is a thread-pool round trip (wake a worker, then the event loop), and on a
    // busy machine those round trips, not the syscalls, were the largest wait of `hpauth proxy`, which calls get()
    // per request (BENCHMARKS.md); a local lstat takes microseconds.
    const seen = this.#seen.get(key);
    if (seen) {
      let st: BigIntStats | undefined;
      try {
        st = lstatSync(file, { bigint: true, throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (st && sameFile(seen.id, st)) return structuredClone(seen.record);
      this.#seen.delete(key);
    }
    const startedAt = Date.now();
    const read = await this.#readPrivateWithId(file);
    if (read === undefined) return undefined;
    const { text, id } = read;
    const parsed = parseFile(text);
    if (parsed.kind !== "ok") throw unreadable(parsed, file);
    if (parsed.key !== key) {
      throw storeError(`Token file ${file} belongs to another key ("${parsed.key}"); it was copied or renamed.`, {
        hint: "Move the file out of the token directory.",
      });
    }
    // Field by field (stores/record.ts): a damaged field is dropped after the bytes are kept aside, a damaged
    // refresh token makes the whole file unreadable.
    let warned = false;
    const record = await readRecord(parsed.record, {
      where: `Token file ${file}`,
      warn: (m) => {
        warned = true;
        this.#warn(m);
      },
      keepAside: () => keepCopyOf(file, text),
    });
    // Remembered only if clean and settled: a salvaged record is re-read (and re-judged) every time, and a file
    // changed less than RACY_MS before this read began could be changed again with the same timestamps.
    if (id && !warned && checkRecord(parsed.record).kind === "ok" && settled(id, startedAt)) {
      this.#seen.set(key, { id, record: structuredClone(record) });
    }
    return record;
  }

  async set(key: string, record: TokenRecord, options: SetOptions = {}): Promise<void> {
    this.#seen.delete(key);
    await this.#ensureDir();
    const holder = this.#holders.getStore()?.get(key);
    const file = this.#file(key);
    // `released`: a task started inside fn that writes after withLock returned is an ordinary, unfenced write.
    // The lock check and the read of the record being replaced run together: every step before the temp file is
    // written widens the window in which a kill loses a just-rotated refresh token (npm run trials, "memory").
    const [held, existing] = await Promise.all([
      holder && !holder.released ? this.#stillHeld(holder) : true,
      this.#readPrivate(file).catch(() => undefined),
    ]);
    if (holder && !held) {
      const current = await this.get(key).catch(() => undefined);
      if (!options.ifCurrent?.(current)) {
        throw storeError(`Lost the lock on "${holder.key}" before writing; not overwriting the token record.`, {
          hint: "This process stalled longer than the lock's stale window; retry the operation.",
        });
      }
      this.#warn(
        `The lock on "${holder.key}" was lost before writing, but the record is unchanged since it was read: saving.`,
      );
    }
    if (existing !== undefined) {
      const parsed = parseFile(existing);
      if (parsed.kind === "future") throw unreadable(parsed, file);
      if (parsed.kind === "corrupt") {
        // The bytes may still hold a refresh token a human can rescue: keep them before replacing.
        const copy = `${file}.corrupt-${Date.now()}`;
        await this.#fs.copyFile(file, copy, fsConstants.COPYFILE_EXCL).catch((e) => {
          // A concurrent writer preserved the same bytes in the same millisecond.
          if (errno(e) === "EEXIST") return;
          throw storeError(`Token file ${file} is corrupt and could not be preserved before overwriting.`, {
            cause: e,
          });
        });
        // copyFile copied the mode of the record, 0600 since #readPrivate: this holds even if it changed since.
        await this.#fs.chmod(copy, 0o600);
        this.#warn(`Token file ${file} was corrupt (${parsed.reason}); kept a copy at ${copy} and replaced it.`);
      }
    }
    // `prev`: which record this one replaces, so a copy left in a temp file by a writer that died before its rename
    // is recovered only over exactly that record (#settleTemps), never over a newer one.
    const prev = existing === undefined ? null : digest(existing);
    const body = `${JSON.stringify({ v: FILE_FORMAT, key, prev, record }, null, 2)}\n`;
    try {
      await this.#atomicWrite(file, body);
    } catch (e) {
      // The directory was removed under a long-lived store (a user cleaning up): recreate it once, privately.
      if (errno((e as HpauthError).cause) !== "ENOENT") throw e;
      this.#ready = undefined;
      await this.#ensureDir();
      await this.#atomicWrite(file, body);
    }
  }

  async delete(key: string): Promise<void> {
    this.#seen.delete(key);
    await this.#ensureDir();
    const file = this.#file(key);
    try {
      await this.#fs.unlink(file);
    } catch (e) {
      if (errno(e) !== "ENOENT")
        throw storeError(`Cannot delete token file ${file} (${errno(e) ?? "error"}).`, { cause: e });
    }
    // A dead writer's temp file of this key must not bring the record back later: drop (or set aside) those too.
    await this.#settleTemps(key, "discard");
    await this.#syncDir();
  }

  async list(): Promise<string[]> {
    await this.#ensureDir();
    const keys: string[] = [];
    for (const name of await this.#names()) {
      if (!name.endsWith(".json") || name.startsWith(".")) continue;
      const file = this.#join(name);
      const text = await this.#readPrivate(file).catch((e: unknown) => {
        this.#warn(`Skipping token file ${file}: ${e instanceof Error ? e.message : String(e)}`);
        return undefined;
      });
      if (text === undefined) continue;
      const parsed = parseFile(text);
      if (parsed.kind !== "ok") {
        this.#warn(`Skipping token file ${file}: ${parsed.reason}.`);
        continue;
      }
      // A copied file would list its key twice; only the file at the key's own name counts.
      if (`${baseName(parsed.key)}.json` !== name) {
        this.#warn(`Skipping token file ${file}: it holds key "${parsed.key}" under another name.`);
        continue;
      }
      keys.push(parsed.key);
    }
    return keys.sort();
  }

  withLock<T>(key: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#lockTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const { signal } = options;
    // In-process queue first: the lock directory cannot tell two callers of one process apart, and they would poll.
    return this.#mutex.run(
      key,
      async () => {
        await this.#ensureDir();
        const holder: Holder = { key, lockPath: this.#lockPath(key) };
        const lock = await this.#acquire(holder, deadline, timeoutMs, signal);
        holder.lock = lock;
        const held = new Map(this.#holders.getStore() ?? []);
        held.set(key, holder);
        try {
          // Under the lock: a record a dead writer got onto disk but not renamed into place is the newest one.
          await this.#settleTemps(key, "recover");
          return await this.#holders.run(held, fn);
        } finally {
          holder.released = true;
          await lock.release().catch((e: unknown) => {
            if (!holder.lost) this.#warn(`Releasing the lock on "${key}" failed (${errno(e) ?? "error"}).`);
          });
        }
      },
      { timeoutMs, ...(signal ? { signal } : {}) },
    );
  }

  async #acquire(holder: Holder, deadline: number, timeoutMs: number, signal?: AbortSignal): Promise<HeldLock> {
    let backoff = 20;
    for (;;) {
      if (signal?.aborted) throw cancelled();
      let got: Awaited<ReturnType<typeof tryAcquire>>;
      try {
        got = await tryAcquire(holder.lockPath, {
          fs: this.#fs,
          staleMs: this.#staleMs,
          updateMs: this.#updateMs,
          warn: this.#warn,
          processes: this.#processes,
          // Warn, and refuse further writes under this lock (set() checks), so a holder that stalled past the stale
          // window cannot clobber the record written by whoever took over.
          onCompromised: (err) => {
            holder.lost = err;
            this.#warn(
              `The lock on "${holder.key}" was lost while held (${err.message}); another process may have taken it over. Further writes under it are refused.`,
            );
          },
        });
      } catch (e) {
        throw storeError(`Cannot lock token "${holder.key}" in ${this.dir} (${errno(e) ?? "error"}).`, { cause: e });
      }
      if ("held" in got) return got.held;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw lockTimeout(holder.key, timeoutMs, this.#staleMs);
      // Jittered so N waiters do not hit the directory in lockstep; capped well below the stale window so a
      // dead holder's lock is noticed promptly.
      const wait = Math.min(remaining, backoff * (0.5 + Math.random()));
      backoff = Math.min(backoff * 1.6, 400);
      try {
        await delay(wait, undefined, signal ? { signal } : undefined);
      } catch {
        throw cancelled();
      }
    }
  }

  async #stillHeld(holder: Holder): Promise<boolean> {
    if (holder.lost || !holder.lock) return false;
    // Catches a takeover that the next heartbeat would report only later.
    return holder.lock.check().catch(() => false);
  }

  /**
   * Temp files of `key` whose writer is provably dead (or that are older than tempMaxAgeMs): an empty one is
   * deleted; one that does not parse is kept aside as `<file>.corrupt-<ms>` (it may hold a refresh token);
   * a complete record of the same key written over exactly the record stored now (its `prev` is the hash of the
   * stored file, or null when none is stored) and newer than it is renamed into place — only in mode `recover`,
   * i.e. under the key's lock (`sweep` leaves it for then, `discard` — after a delete — drops it); any other
   * complete one is superseded and deleted. A temp file of a live writer is left alone.
   */
  async #settleTemps(key: string, mode: "recover" | "sweep" | "discard"): Promise<void> {
    const file = this.#file(key);
    const prefix = `.${baseName(key)}.json.`;
    const names = (await this.#names()).filter((n) => n.startsWith(prefix) && n.endsWith(".tmp")).sort();
    for (const name of names) {
      const tmp = this.#join(name);
      if (!(await this.#abandoned(name, tmp))) continue;
      const text = await this.#readPrivate(tmp).catch(() => undefined);
      if (text === undefined) continue;
      if (text.length === 0) {
        await this.#fs.rm(tmp, { force: true }).catch(() => undefined);
        continue;
      }
      const parsed = parseFile(text);
      if (parsed.kind === "future") continue; // a newer hpauth's: not ours to judge
      if (parsed.kind !== "ok" || parsed.key !== key) {
        const aside = `${file}.corrupt-${Date.now()}`;
        await this.#fs.rename(tmp, aside).catch(() => undefined);
        this.#warn(
          `An interrupted write left an incomplete temp file for "${key}" (${parsed.kind === "ok" ? "another key" : parsed.reason}); kept it at ${aside}.`,
        );
        continue;
      }
      const current = await this.#readPrivate(file).catch(() => null);
      if (current === null) continue; // unreadable record: leave both for a human
      const stored = current === undefined ? undefined : parseFile(current);
      const basedOnStored = parsed.prev === (current === undefined ? null : digest(current));
      const newer = stored?.kind !== "ok" || parsed.record.updatedAt > stored.record.updatedAt;
      if (basedOnStored && newer && mode !== "discard") {
        if (mode === "sweep") continue;
        await this.#fs.rename(tmp, file);
        await this.#syncDir();
        this.#warn(
          `Recovered the token record for "${key}" from a write interrupted before its rename (the writer died); it was newer than the stored one.`,
        );
        continue;
      }
      await this.#fs.rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  /** The temp file's writer is provably dead (its name says who wrote it), or the file is older than tempMaxAgeMs. */
  async #abandoned(name: string, path: string): Promise<boolean> {
    const w = TEMP_NAME.exec(name);
    if (w) {
      const me = await selfIdentity(this.#processes);
      if (w[1] === hostTag(me)) {
        const pid = Number(w[2]);
        const { start: _mine, ...where } = me;
        const writer: ProcessIdentity = w[3] === "x" ? { ...where, pid } : { ...where, pid, start: w[3] };
        if (pid === me.pid && writer.start === me.start) return false; // ours: a write in progress here
        const state = await holderState(writer, this.#processes);
        if (state === "dead") return true;
        if (state === "alive") return false;
      }
    }
    const age = await this.#fs.stat(path).then(
      (s) => Date.now() - s.mtimeMs,
      () => -1,
    );
    return age > this.#tempMaxAgeMs;
  }

  #file(key: string): string {
    // Memoised: the name hashes the key (SHA-256), and get() runs per proxied request.
    let file = this.#files.get(key);
    if (file === undefined) {
      file = this.#join(`${baseName(key)}.json`);
      this.#files.set(key, file);
    }
    return file;
  }

  #lockPath(key: string): string {
    return this.#join(`${baseName(key)}.lock`);
  }

  #join(name: string): string {
    return IS_WINDOWS ? win32.join(this.dir, name) : posix.join(this.dir, name);
  }

  async #names(): Promise<string[]> {
    try {
      return await this.#fs.readdir(this.dir);
    } catch (e) {
      throw storeError(`Cannot read token directory ${this.dir} (${errno(e) ?? "error"}).`, { cause: e });
    }
  }

  /** Creates / checks the directory once per store, and sweeps temp files left by dead writers. */
  #ensureDir(): Promise<void> {
    this.#ready ??= this.#prepareDir().catch((e) => {
      this.#ready = undefined;
      throw e;
    });
    return this.#ready;
  }

  async #prepareDir() {
    try {
      await this.#fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw storeError(`Cannot create token directory ${this.dir} (${errno(e) ?? "error"}).`, { cause: e });
    }
    const st = await this.#fs.stat(this.dir);
    if (!st.isDirectory()) throw storeError(`Token directory ${this.dir} is not a directory.`);
    if (!IS_WINDOWS) {
      const uid = process.geteuid?.();
      if (uid !== undefined && st.uid !== uid) {
        throw storeError(`Token directory ${this.dir} is owned by uid ${st.uid}, not by this user (uid ${uid}).`, {
          hint: "Use a directory you own (--store-dir or HPAUTH_STORE_DIR).",
        });
      }
      // Our own directory with loose permissions (an older tool, a careless mkdir): tightening it is safe and
      // what the user wants; files inside are checked one by one as they are read.
      if ((st.mode & 0o077) !== 0) {
        await this.#fs.chmod(this.dir, 0o700);
        this.#warn(`Token directory ${this.dir} was accessible to others (mode ${modeOf(st.mode)}); set it to 0700.`);
      }
    }
    const now = Date.now();
    for (const name of await this.#names()) {
      const path = this.#join(name);
      if (isLockLeftover(name)) {
        // Takeover tombstones stay for a grace period: their names are what stops a second, slower taker.
        const age = await this.#fs.lstat(path).then(
          (s) => now - s.mtimeMs,
          () => -1,
        );
        if (age > this.#tempMaxAgeMs) await this.#fs.rm(path, { recursive: true, force: true }).catch(() => undefined);
        continue;
      }
      const temp = TEMP_FILE.exec(name);
      if (!temp) continue;
      // Without the lock: only what is safe whoever holds it — dead writers' empty, broken or superseded temp
      // files. A recoverable one waits for the next withLock of its key; a live writer's is left alone.
      const text = await this.#readPrivate(path).catch(() => undefined);
      if (text === undefined) continue;
      const parsed = parseFile(text);
      if (parsed.kind === "ok" && `${baseName(parsed.key)}` === temp[1]) {
        await this.#settleTemps(parsed.key, "sweep").catch(() => undefined);
      } else if (await this.#abandoned(name, path)) {
        if (text.length === 0 || parsed.kind === "corrupt") {
          // No key to file it under: an empty one goes, a broken one is kept aside next to where it was.
          if (text.length === 0) await this.#fs.rm(path, { force: true }).catch(() => undefined);
          else await this.#fs.rename(path, this.#join(`${temp[1]}.json.corrupt-${now}`)).catch(() => undefined);
        }
      }
    }
  }

  /** Reads a record file if it exists, refusing symlinks and files owned by someone else. */
  async #readPrivate(file: string): Promise<string | undefined> {
    return (await this.#readPrivateWithId(file))?.text;
  }

  /** #readPrivate, plus the identity of the file read (from the open descriptor: exactly the bytes returned). */
  async #readPrivateWithId(file: string): Promise<{ text: string; id?: FileId } | undefined> {
    let fh: Awaited<ReturnType<StoreFs["open"]>>;
    try {
      fh = await this.#fs.open(file, fsConstants.O_RDONLY | O_NOFOLLOW);
    } catch (e) {
      if (errno(e) === "ENOENT") return undefined;
      if (errno(e) === "ELOOP") throw storeError(`Token file ${file} is a symbolic link; refusing to follow it.`);
      throw storeError(`Cannot read token file ${file} (${errno(e) ?? "error"}).`, { cause: e });
    }
    try {
      const st = await fh.stat({ bigint: true });
      if (!IS_WINDOWS) {
        const uid = process.geteuid?.();
        if (uid !== undefined && Number(st.uid) !== uid) {
          throw storeError(`Token file ${file} is owned by uid ${st.uid}, not by this user; refusing to use it.`);
        }
        if ((Number(st.mode) & 0o077) !== 0) {
          await fh.chmod(0o600);
          this.#warn(`Token file ${file} was accessible to others (mode ${modeOf(Number(st.mode))}); set it to 0600.`);
          // The chmod changed the ctime: the identity below no longer describes the file; a later get re-reads.
          return { text: await fh.readFile("utf8") };
        }
      }
      return { text: await fh.readFile("utf8"), id: fileId(st) };
    } finally {
      await fh.close();
    }
  }

  /**
   * Temp file in the same directory (so rename is atomic), created exclusively with mode 0600 before any byte is
   * written, flushed, renamed over the record, then the directory flushed so the rename survives a power cut.
   */
  async #atomicWrite(file: string, body: string) {
    const me = await selfIdentity(this.#processes);
    // The writer's identity in the name (host tag, pid, start time): whoever finds the file can tell if we died.
    const tag = `${hostTag(me)}-${me.pid}-${me.start ?? "x"}-${randomBytes(8).toString("hex")}`;
    const tmp = this.#join(`.${posix.basename(file.replace(/\\/g, "/"))}.${tag}.tmp`);
    try {
      const fh = await this.#fs.open(
        tmp,
        fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | O_NOFOLLOW,
        0o600,
      );
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.#fs.rename(tmp, file);
    } catch (e) {
      await this.#fs.rm(tmp).catch(() => undefined); // not there if the open failed
      throw storeError(`Cannot write token file ${file} (${errno(e) ?? "error"}).`, { cause: e });
    }
    await this.#syncDir();
  }

  async #syncDir() {
    // Windows cannot open a directory for fsync; NTFS journals the rename itself.
    if (IS_WINDOWS) return;
    const dh = await this.#fs.open(this.dir, fsConstants.O_RDONLY);
    try {
      await dh.sync();
    } catch (e) {
      // Some filesystems (certain network mounts) refuse fsync on directories; the rename itself is still atomic.
      if (errno(e) !== "EINVAL" && errno(e) !== "ENOTSUP") throw e;
    } finally {
      await dh.close();
    }
  }
}

/**
 * What tells one state of a record file from another without reading it: device, inode, size, and the nanosecond
 * modification and status-change times. Every write of the store is a new file renamed into place (a new inode,
 * a new ctime); an edit in place changes mtime and ctime, a chmod or chown the ctime, and ctime cannot be set by
 * a user (touch sets mtime and atime only). Compared in full, as bigints.
 */
interface FileId {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * A file whose ctime is this close to (or after) the moment a read of it began is never remembered: a later change
 * within the same timestamp tick (file systems stamp with a coarse clock) could leave every FileId field equal —
 * git's "racy clean" rule. A token file is rewritten once per token lifetime, so the fast path works between.
 */
const RACY_MS = 2_000;

function fileId(st: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }): FileId {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

function sameFile(a: FileId, st: { isFile(): boolean } & FileId): boolean {
  return (
    st.isFile() &&
    a.ino === st.ino &&
    a.dev === st.dev &&
    a.size === st.size &&
    a.mtimeNs === st.mtimeNs &&
    a.ctimeNs === st.ctimeNs
  );
}

function settled(id: FileId, readStartedAtMs: number): boolean {
  return id.ctimeNs < BigInt(readStartedAtMs - RACY_MS) * 1_000_000n;
}

/** `.<base>.json.<host tag>-<pid>-<start|x>-<random>.tmp`. */
const TEMP_NAME = /\.json\.([0-9a-f]{12})-(\d+)-(\d+|x)-[0-9a-f]{16}\.tmp$/;

/** Names this host, boot and pid namespace: a pid in a temp file name means something only where they match. */
function hostTag(id: { host: string; boot?: string; pidns?: string }): string {
  return createHash("sha256")
    .update(`${id.host}\0${id.boot ?? ""}\0${id.pidns ?? ""}`)
    .digest("hex")
    .slice(0, 12);
}

function digest(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, 32);
}

function unreadable(parsed: Exclude<Parsed, { kind: "ok" }>, file: string): HpauthError {
  if (parsed.kind === "future") {
    return storeError(`Token file ${file} was ${parsed.reason}; refusing to read or overwrite it.`, {
      hint: "Upgrade hpauth, or use a separate --store-dir for this version.",
    });
  }
  return storeError(`Token file ${file} is unreadable: ${parsed.reason}.`, {
    hint: "Fix or delete the file; a new `hpauth login` replaces it (keeping a .corrupt copy of the damaged bytes).",
  });
}

function modeOf(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function storeError(message: string, options: { hint?: string; cause?: unknown } = {}): HpauthError {
  return new HpauthError("STORE_ERROR", message, options);
}

function cancelled(): HpauthError {
  return new HpauthError("CANCELLED", "Cancelled while waiting for the token lock.");
}

function lockTimeout(key: string, timeoutMs: number, staleMs: number): HpauthError {
  return new HpauthError("LOCK_TIMEOUT", `Timed out after ${timeoutMs} ms waiting for the lock on "${key}".`, {
    hint: `Another hpauth process is refreshing or logging in for this credential; wait for it or raise the lock timeout (a crashed holder's lock is taken over after ${Math.round(staleMs / 1000)} s).`,
  });
}

/**
 * Writes `text` beside `file` as `<file>.corrupt-<content hash>` (0600, never overwriting): the same damaged bytes
 * read again make no second copy (and no second warning).
 */
export async function keepCopyOf(file: string, text: string): Promise<{ path: string; created: boolean }> {
  const path = `${file}.corrupt-${createHash("sha256").update(text, "utf8").digest("hex").slice(0, 12)}`;
  try {
    await writeFile(path, text, { flag: "wx", mode: 0o600 });
    return { path, created: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    return { path, created: false };
  }
}
