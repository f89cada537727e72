/**
 * The default token store: one JSON file per credential in a private directory, replaced atomically, with a
 * cross-process lock per credential (proper-lockfile: a lock directory whose mtime the holder keeps fresh, so a
 * holder that died is taken over after `staleMs`). Layout, format and guarantees: docs/stores.md.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash, randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { chmod, copyFile, mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { homedir as osHomedir } from "node:os";
import { posix, win32 } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { HpauthError } from "../engine/errors.js";
import { DEFAULT_LOCK_TIMEOUT_MS, KeyedMutex } from "./mutex.js";
import { keepCopyOf, readRecord } from "./record.js";

// proper-lockfile (with graceful-fs, retry, signal-exit) costs several ms to load, and a cached token read takes no
// lock: loaded on the first withLock() only.
let lockfileModule: Promise<typeof import("proper-lockfile")> | undefined;
const loadLockfile = () => {
  lockfileModule ??= import("proper-lockfile").then(
    (m) => (m as { default?: typeof import("proper-lockfile") }).default ?? m,
  );
  return lockfileModule;
};

import type { LockOptions, SetOptions, TokenRecord, TokenStore } from "./types.js";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Where tokens live by default: `$XDG_DATA_HOME/hpauth/tokens` (else `~/.local/share/hpauth/tokens`) on Linux and
 * other Unixes, `~/Library/Application Support/hpauth/tokens` on macOS (XDG_DATA_HOME wins there too, as
 * XDG_CONFIG_HOME does for the config file), `%LOCALAPPDATA%\hpauth\tokens` on Windows — a per-user, non-roaming
 * location, because tokens are machine-local state, not settings to sync.
 */
export function defaultTokenDir(
  env: Env = process.env,
  platform: NodeJS.Platform = process.platform,
  homedir: string = osHomedir(),
): string {
  if (platform === "win32") {
    return win32.join(env.LOCALAPPDATA || win32.join(homedir, "AppData", "Local"), "hpauth", "tokens");
  }
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env.XDG_DATA_HOME && posix.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : undefined;
  if (platform === "darwin" && !xdg) return posix.join(homedir, "Library", "Application Support", "hpauth", "tokens");
  return posix.join(xdg ?? posix.join(homedir, ".local", "share"), "hpauth", "tokens");
}

export interface FileTokenStoreOptions {
  /** The directory holding one file per credential. Created 0700 if missing. */
  dir: string;
  /** Default wait for a lock when the caller gives none: long enough for someone else's browser login. */
  lockTimeoutMs?: number;
  /**
   * A lock whose holder has not refreshed it for this long is considered dead and taken over. The holder refreshes
   * it every `lockUpdateMs` while alive, however long it holds the lock. proper-lockfile's minimum is 2000.
   */
  lockStaleMs?: number;
  /** How often a live holder refreshes its lock (proper-lockfile clamps it to [1000, lockStaleMs / 2]). */
  lockUpdateMs?: number;
  /** Stray temp files (from a writer that died mid-write) older than this are deleted when the store opens. */
  tempMaxAgeMs?: number;
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
/** Version of the file envelope `{v, key, record}`; the record carries its own `v` (TokenRecord). */
const FILE_FORMAT = 1;
const RECORD_VERSION = 1;
const IS_WINDOWS = process.platform === "win32";
// Absent on Windows; a symlink planted in place of a token file must not be followed.
const O_NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;

interface Holder {
  key: string;
  lockPath: string;
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
  #ready?: Promise<void>;

  constructor(options: FileTokenStoreOptions) {
    if (!options?.dir) throw new HpauthError("USAGE", "FileTokenStore needs a directory (`dir`).");
    this.dir = options.dir;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    this.#staleMs = Math.max(options.lockStaleMs ?? DEFAULT_LOCK_STALE_MS, 2000);
    this.#updateMs = options.lockUpdateMs ?? DEFAULT_LOCK_UPDATE_MS;
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
    const text = await this.#readPrivate(file);
    if (text === undefined) return undefined;
    const parsed = parseFile(text);
    if (parsed.kind !== "ok") throw unreadable(parsed, file);
    if (parsed.key !== key) {
      throw storeError(`Token file ${file} belongs to another key ("${parsed.key}"); it was copied or renamed.`, {
        hint: "Move the file out of the token directory.",
      });
    }
    // Field by field (stores/record.ts): a damaged field is dropped after the bytes are kept aside, a damaged
    // refresh token makes the whole file unreadable.
    return readRecord(parsed.record, {
      where: `Token file ${file}`,
      warn: this.#warn,
      keepAside: () => keepCopyOf(file, text),
    });
  }

  async set(key: string, record: TokenRecord, options: SetOptions = {}): Promise<void> {
    await this.#ensureDir();
    const holder = this.#holders.getStore()?.get(key);
    const file = this.#file(key);
    // `released`: a task started inside fn that writes after withLock returned is an ordinary, unfenced write.
    if (holder && !holder.released && !(await this.#stillHeld(holder))) {
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
    const existing = await this.#readPrivate(file).catch(() => undefined);
    if (existing !== undefined) {
      const parsed = parseFile(existing);
      if (parsed.kind === "future") throw unreadable(parsed, file);
      if (parsed.kind === "corrupt") {
        // The bytes may still hold a refresh token a human can rescue: keep them before replacing.
        const copy = `${file}.corrupt-${Date.now()}`;
        await copyFile(file, copy, fsConstants.COPYFILE_EXCL).catch((e) => {
          // A concurrent writer preserved the same bytes in the same millisecond.
          if (errno(e) === "EEXIST") return;
          throw storeError(`Token file ${file} is corrupt and could not be preserved before overwriting.`, {
            cause: e,
          });
        });
        if (!IS_WINDOWS) await chmod(copy, 0o600);
        this.#warn(`Token file ${file} was corrupt (${parsed.reason}); kept a copy at ${copy} and replaced it.`);
      }
    }
    const body = `${JSON.stringify({ v: FILE_FORMAT, key, record }, null, 2)}\n`;
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
    await this.#ensureDir();
    const file = this.#file(key);
    try {
      await unlink(file);
    } catch (e) {
      if (errno(e) === "ENOENT") return;
      throw storeError(`Cannot delete token file ${file} (${errno(e) ?? "error"}).`, { cause: e });
    }
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
    // In-process queue first: proper-lockfile would report our own live lock as ELOCKED and we would poll for it.
    return this.#mutex.run(
      key,
      async () => {
        await this.#ensureDir();
        const holder: Holder = { key, lockPath: this.#lockPath(key) };
        const release = await this.#acquire(holder, deadline, timeoutMs, signal);
        const held = new Map(this.#holders.getStore() ?? []);
        held.set(key, holder);
        try {
          return await this.#holders.run(held, fn);
        } finally {
          holder.released = true;
          // After a compromise proper-lockfile has already dropped the lock (ERELEASED); nothing else to undo.
          await release().catch((e: unknown) => {
            if (!holder.lost) this.#warn(`Releasing the lock on "${key}" failed (${errno(e) ?? "error"}).`);
          });
        }
      },
      { timeoutMs, ...(signal ? { signal } : {}) },
    );
  }

  async #acquire(holder: Holder, deadline: number, timeoutMs: number, signal?: AbortSignal) {
    const lockfile = await loadLockfile();
    let backoff = 20;
    for (;;) {
      if (signal?.aborted) throw cancelled();
      try {
        return await lockfile.lock(this.#file(holder.key), {
          lockfilePath: holder.lockPath,
          realpath: false,
          retries: 0,
          stale: this.#staleMs,
          update: this.#updateMs,
          // The default throws from a timer, killing the process. Instead: warn, and refuse further writes under
          // this lock (set() checks), so a holder that stalled past the stale window cannot clobber the record
          // written by whoever took over.
          onCompromised: (err) => {
            holder.lost = err;
            this.#warn(
              `The lock on "${holder.key}" was lost while held (${err.message}); another process may have taken it over. Further writes under it are refused.`,
            );
          },
        });
      } catch (e) {
        if (errno(e) !== "ELOCKED") {
          throw storeError(`Cannot lock token "${holder.key}" in ${this.dir} (${errno(e) ?? "error"}).`, {
            cause: e,
          });
        }
      }
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
    if (holder.lost) return false;
    // Catches a takeover that proper-lockfile's next update tick would report only later.
    return (await loadLockfile())
      .check(this.#file(holder.key), { lockfilePath: holder.lockPath, realpath: false, stale: this.#staleMs })
      .catch(() => false);
  }

  #file(key: string): string {
    return this.#join(`${baseName(key)}.json`);
  }

  #lockPath(key: string): string {
    return this.#join(`${baseName(key)}.lock`);
  }

  #join(name: string): string {
    return IS_WINDOWS ? win32.join(this.dir, name) : posix.join(this.dir, name);
  }

  async #names(): Promise<string[]> {
    try {
      return await readdir(this.dir);
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
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw storeError(`Cannot create token directory ${this.dir} (${errno(e) ?? "error"}).`, { cause: e });
    }
    const st = await stat(this.dir);
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
        await chmod(this.dir, 0o700);
        this.#warn(`Token directory ${this.dir} was accessible to others (mode ${modeOf(st.mode)}); set it to 0700.`);
      }
    }
    const now = Date.now();
    for (const name of await this.#names()) {
      if (!(name.startsWith(".") && name.endsWith(".tmp"))) continue;
      const path = this.#join(name);
      const age = await stat(path).then(
        (s) => now - s.mtimeMs,
        () => -1,
      );
      // Young temp files may belong to a live writer in another process (its rename would then fail).
      if (age > this.#tempMaxAgeMs) await rm(path, { force: true }).catch(() => undefined);
    }
  }

  /** Reads a record file if it exists, refusing symlinks and files owned by someone else. */
  async #readPrivate(file: string): Promise<string | undefined> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(file, fsConstants.O_RDONLY | O_NOFOLLOW);
    } catch (e) {
      if (errno(e) === "ENOENT") return undefined;
      if (errno(e) === "ELOOP") throw storeError(`Token file ${file} is a symbolic link; refusing to follow it.`);
      throw storeError(`Cannot read token file ${file} (${errno(e) ?? "error"}).`, { cause: e });
    }
    try {
      if (!IS_WINDOWS) {
        const st = await fh.stat();
        const uid = process.geteuid?.();
        if (uid !== undefined && st.uid !== uid) {
          throw storeError(`Token file ${file} is owned by uid ${st.uid}, not by this user; refusing to use it.`);
        }
        if ((st.mode & 0o077) !== 0) {
          await fh.chmod(0o600);
          this.#warn(`Token file ${file} was accessible to others (mode ${modeOf(st.mode)}); set it to 0600.`);
        }
      }
      return await fh.readFile("utf8");
    } finally {
      await fh.close();
    }
  }

  /**
   * Temp file in the same directory (so rename is atomic), created exclusively with mode 0600 before any byte is
   * written, flushed, renamed over the record, then the directory flushed so the rename survives a power cut.
   */
  async #atomicWrite(file: string, body: string) {
    const tmp = this.#join(`.${posix.basename(file.replace(/\\/g, "/"))}.${randomBytes(8).toString("hex")}.tmp`);
    try {
      const fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | O_NOFOLLOW, 0o600);
      try {
        await fh.writeFile(body, "utf8");
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw storeError(`Cannot write token file ${file} (${errno(e) ?? "error"}).`, { cause: e });
    }
    await this.#syncDir();
  }

  async #syncDir() {
    // Windows cannot open a directory for fsync; NTFS journals the rename itself.
    if (IS_WINDOWS) return;
    const dh = await open(this.dir, fsConstants.O_RDONLY);
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

function baseName(key: string): string {
  if (typeof key !== "string" || key === "")
    throw new HpauthError("USAGE", "A token store key must be a non-empty string.");
  const slug = key.replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, 48);
  const hash = createHash("sha256").update(key, "utf8").digest("hex").slice(0, 32);
  return `${slug}.${hash}`;
}

type Parsed =
  | { kind: "ok"; key: string; record: TokenRecord }
  | { kind: "future"; version: number; reason: string }
  | { kind: "corrupt"; reason: string };

function parseFile(text: string): Parsed {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { kind: "corrupt", reason: text.length === 0 ? "empty file" : "not valid JSON (truncated or edited?)" };
  }
  if (!isObject(doc)) return { kind: "corrupt", reason: "not a JSON object" };
  const newer =
    newerVersion(doc.v, FILE_FORMAT) ?? (isObject(doc.record) ? newerVersion(doc.record.v, RECORD_VERSION) : undefined);
  if (newer !== undefined) {
    return {
      kind: "future",
      version: newer,
      reason: `written by a newer hpauth (format version ${newer}; this one understands ${RECORD_VERSION})`,
    };
  }
  if (doc.v !== FILE_FORMAT) return { kind: "corrupt", reason: "missing or invalid version field" };
  if (typeof doc.key !== "string" || doc.key === "") return { kind: "corrupt", reason: "missing key" };
  const record = doc.record;
  if (!isObject(record) || record.v !== RECORD_VERSION || typeof record.provider !== "string") {
    return { kind: "corrupt", reason: "missing or invalid record" };
  }
  return { kind: "ok", key: doc.key, record: record as unknown as TokenRecord };
}

function newerVersion(v: unknown, known: number): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v > known ? v : undefined;
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
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
