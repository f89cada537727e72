/**
 * Field-by-field validation of a token record read back from a store. The bytes come from disk (or Redis), where a
 * hand edit, another tool or a bug may have left `expiresAt: 1e20`, `"expiresAt": "tomorrow"` or a number where a
 * token belongs; before this check such a record crashed `token` and `status` with `RangeError: Invalid time value`.
 *
 * Policy — what the user would lose decides:
 * - The refresh token is the one thing of value (losing it means a new login: a browser for TechPulse, the
 *   30-minute budget for Aruba). When it is present but not a usable string, or the record is not a v1 record of a
 *   provider at all, the record is refused like a corrupt file (`STORE_ERROR`, "fix or delete the file"): no
 *   automatic login replaces bytes a person may still rescue.
 * - A damaged access-token field (`accessToken`, `expiresAt`, `obtainedAt`, `tokenType`) drops the access token:
 *   an expiry we cannot trust is no expiry, and the engine refreshes (or re-grants) exactly as for an expired one.
 * - A damaged bookkeeping field (`lastError`, `lastLoginAt`, `refreshTokenIssuedAt`, …) is dropped alone.
 * A salvaged record is used with a warning naming the file and the fields (never their values), after the store has
 * kept the original bytes aside. Unknown extra fields are kept (a newer hpauth of the same record version).
 * Pure (the copy is the caller's `keepAside`): the CLI's cached-token probe judges records with checkRecord too.
 */
import { isTimeMs } from "../engine/dates.js";
import { HpauthError } from "../engine/errors.js";
import type { TokenRecord } from "./types.js";

export const RECORD_VERSION = 1;

export type RecordCheck =
  | { kind: "ok"; record: TokenRecord }
  /** Some fields were unusable and removed; `problems` names them (no values). */
  | { kind: "salvaged"; record: TokenRecord; problems: string[] }
  /** Nothing safe to use automatically. */
  | { kind: "corrupt"; reason: string };

const ACCESS_FIELDS = ["accessToken", "tokenType", "expiresAt", "obtainedAt"] as const;
const TIME_FIELDS = ["refreshTokenIssuedAt", "lastRefreshAt", "lastLoginAt", "refreshPendingSince"] as const;
const STRING_FIELDS = ["profile", "scope"] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const nonEmpty = (v: unknown): v is string => typeof v === "string" && v !== "";

function timeProblem(v: unknown): string {
  if (typeof v !== "number") return `not a number (${v === null ? "null" : Array.isArray(v) ? "array" : typeof v})`;
  return "not a time between 1970 and 9999";
}

/** Judges one record (already JSON-parsed). Never throws, whatever `value` is. */
export function checkRecord(value: unknown): RecordCheck {
  if (!isObject(value)) return { kind: "corrupt", reason: "the record is not a JSON object" };
  if (value.v !== RECORD_VERSION) return { kind: "corrupt", reason: "missing or invalid record version" };
  if (!nonEmpty(value.provider)) return { kind: "corrupt", reason: "missing or invalid provider" };
  if (value.refreshToken !== undefined && !nonEmpty(value.refreshToken)) {
    return {
      kind: "corrupt",
      reason: "refreshToken is not a token string (it may still be recoverable from the file by hand)",
    };
  }
  const out: Record<string, unknown> = { ...value };
  const problems: string[] = [];
  const drop = (field: string, why: string) => {
    problems.push(`${field} ${why}`);
    delete out[field];
  };

  // The access token and what says how long it lives stand or fall together.
  const accessBad: string[] = [];
  if (value.accessToken !== undefined && !nonEmpty(value.accessToken)) accessBad.push("accessToken is not a string");
  if (value.tokenType !== undefined && typeof value.tokenType !== "string") accessBad.push("tokenType is not a string");
  for (const f of ["expiresAt", "obtainedAt"] as const) {
    if (value[f] !== undefined && !isTimeMs(value[f])) accessBad.push(`${f} ${timeProblem(value[f])}`);
  }
  if (accessBad.length > 0) {
    problems.push(...accessBad.map((p) => (value.accessToken !== undefined ? `${p}: access token dropped` : p)));
    for (const f of ACCESS_FIELDS) delete out[f];
  }
  for (const f of TIME_FIELDS) if (value[f] !== undefined && !isTimeMs(value[f])) drop(f, timeProblem(value[f]));
  for (const f of STRING_FIELDS) if (value[f] !== undefined && typeof value[f] !== "string") drop(f, "is not a string");
  if (value.meta !== undefined && !isObject(value.meta)) drop("meta", "is not an object");
  if (value.lastError !== undefined) {
    const e = value.lastError;
    if (!isObject(e) || typeof e.code !== "string" || typeof e.message !== "string" || !isTimeMs(e.at)) {
      drop("lastError", "is not {code, message, at}");
    }
  }
  if (!isTimeMs(value.updatedAt)) {
    problems.push(`updatedAt ${value.updatedAt === undefined ? "is missing" : timeProblem(value.updatedAt)}`);
    out.updatedAt = 0;
  }
  const record = out as unknown as TokenRecord;
  return problems.length === 0 ? { kind: "ok", record } : { kind: "salvaged", record, problems };
}

export interface ReadRecordOptions {
  /** Names the record in messages: `Token file /path/x.json`, `Token record "key"`. */
  where: string;
  warn: (message: string) => void;
  /**
   * Keeps the original bytes before a salvaged record is used (and later overwritten); resolves with where, and
   * whether this call made the copy (a copy made by an earlier read has already been warned about).
   */
  keepAside?: () => Promise<{ path: string; created: boolean }>;
}

/**
 * A store's read path: the record to use, after a warning for a salvaged one; `STORE_ERROR` for a corrupt one.
 */
export async function readRecord(value: unknown, options: ReadRecordOptions): Promise<TokenRecord> {
  const checked = checkRecord(value);
  if (checked.kind === "ok") return checked.record;
  if (checked.kind === "corrupt") {
    throw new HpauthError("STORE_ERROR", `${options.where} is unreadable: ${checked.reason}.`, {
      hint: "Fix or delete it (`hpauth logout` deletes it); a new `hpauth login` then creates a new one.",
    });
  }
  let kept: { path: string; created: boolean } | undefined;
  let keptError: string | undefined;
  try {
    kept = await options.keepAside?.();
  } catch (e) {
    keptError = (e as NodeJS.ErrnoException)?.code ?? "error";
  }
  // Same bytes, already kept and reported by an earlier read (e.g. a cached token served until the next refresh).
  if (kept && !kept.created) return checked.record;
  const where = kept ? `; kept a copy at ${kept.path}` : keptError ? `; could not keep a copy (${keptError})` : "";
  const dropsAccess = checked.problems.some((p) => p.includes("access token dropped"));
  options.warn(
    `${options.where} has damaged fields (${checked.problems.join("; ")})${where}. Using the rest${
      dropsAccess ? (checked.record.refreshToken ? ": the refresh token gets a new access token" : "") : ""
    }.`,
  );
  return checked.record;
}
