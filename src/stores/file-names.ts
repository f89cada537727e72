/**
 * The file store's names and file format, without any I/O: where the token directory is, what a record file, a
 * lock, a temp file and a lock leftover are called, and how a record file's envelope is read. Shared by
 * FileTokenStore (./file.ts) and the CLI's read-only cached-token probe (src/cli/probe.ts), which must find the same
 * file and judge it the same way without loading the store (its async fs, locks and node:crypto).
 */
import { posix, win32 } from "node:path";
import { HpauthError } from "../engine/errors.js";
import { sha256Hex } from "../engine/sha256.js";
import type { TokenRecord } from "./types.js";

/** Version of the file envelope `{v, key, record}`; the record carries its own `v` (TokenRecord). */
export const FILE_FORMAT = 1;
const RECORD_VERSION = 1;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Where tokens live by default: `$XDG_DATA_HOME/hpauth/tokens` (else `~/.local/share/hpauth/tokens`) on Linux and
 * other Unixes, `~/Library/Application Support/hpauth/tokens` on macOS (XDG_DATA_HOME wins there too, as
 * XDG_CONFIG_HOME does for the config file), `%LOCALAPPDATA%\hpauth\tokens` on Windows — a per-user, non-roaming
 * location, because tokens are machine-local state, not settings to sync. (FileTokenStore's defaultTokenDir, with
 * the defaults filled in; this module does not load node:os.)
 */
export function tokenDirFor(env: Env, platform: NodeJS.Platform, homedir: string): string {
  if (platform === "win32") {
    return win32.join(env.LOCALAPPDATA || win32.join(homedir, "AppData", "Local"), "hpauth", "tokens");
  }
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env.XDG_DATA_HOME && posix.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : undefined;
  if (platform === "darwin" && !xdg) return posix.join(homedir, "Library", "Application Support", "hpauth", "tokens");
  return posix.join(xdg ?? posix.join(homedir, ".local", "share"), "hpauth", "tokens");
}

/** A record's file name without `.json`: a readable slug for humans plus a hash, so any key is a safe, distinct name. */
export function baseName(key: string): string {
  if (typeof key !== "string" || key === "")
    throw new HpauthError("USAGE", "A token store key must be a non-empty string.");
  const slug = key.replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, 48);
  const hash = sha256Hex(key).slice(0, 32);
  return `${slug}.${hash}`;
}

export type Parsed =
  | { kind: "ok"; key: string; record: TokenRecord; prev?: string | null }
  | { kind: "future"; version: number; reason: string }
  | { kind: "corrupt"; reason: string };

/** Reads a record file's envelope `{v, key, prev, record}` (the record's fields are judged by ./record.ts). */
export function parseFile(text: string): Parsed {
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
  const ok: Parsed = { kind: "ok", key: doc.key, record: record as unknown as TokenRecord };
  if (doc.prev === null || typeof doc.prev === "string") ok.prev = doc.prev;
  return ok;
}

function newerVersion(v: unknown, known: number): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v > known ? v : undefined;
}

/** A temp file of an atomic write: `.<base>.json.<writer>.tmp`; group 1 is `<base>`. */
export const TEMP_FILE = /^\.(.+\.[0-9a-f]{32})\.json\..*\.tmp$/;

/** Leftovers of takeovers, releases and moved-aside files, by name: `<name>.lock.<kind>-…`. */
export function isLockLeftover(name: string): "tombstone" | "released" | undefined {
  if (/\.lock\.(dead|stale)-[A-Za-z0-9]+$/.test(name)) return "tombstone";
  if (/\.lock\.(released|new)-[0-9a-f]+$/.test(name)) return "released";
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
