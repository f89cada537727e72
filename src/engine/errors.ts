/**
 * Typed errors with stable codes. Every failure the engine reports is an HpauthError; the CLI maps its
 * category to an exit code in one place. The raw server response (if any) hangs off `response` and is
 * not enumerable, so it never lands in a log or a JSON dump by accident (the oauth4webapi way).
 */
import { rfc3339 } from "./dates.js";

/** Stable, exported error codes. Scripts may match on these; never rename one. */
export type ErrorCode =
  // usage / configuration
  | "USAGE"
  | "CONFIG_INVALID"
  | "PROFILE_NOT_FOUND"
  | "SECRET_UNAVAILABLE"
  // authentication refused
  | "LOGIN_REQUIRED"
  | "INVALID_CLIENT"
  | "INVALID_GRANT"
  | "ACCESS_DENIED"
  | "STATE_MISMATCH"
  | "UNAUTHORIZED"
  // rate limited
  | "RATE_LIMITED"
  | "LOGIN_BUDGET_EXHAUSTED"
  // network / server
  | "NETWORK_ERROR"
  | "TIMEOUT"
  | "SERVER_ERROR"
  | "INVALID_RESPONSE"
  /** A refresh or code exchange was sent and its answer never arrived: the server may have acted on it. */
  | "ANSWER_LOST"
  | "LOCK_TIMEOUT"
  | "STORE_ERROR"
  // other
  | "CANCELLED"
  | "INTERNAL";

export type ErrorCategory = "usage" | "auth" | "rate_limited" | "network" | "store" | "cancelled" | "internal";

/** Process exit codes (PRODUCT.md "Exit codes"). Documented in the README; never renumber. */
export const ExitCode = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  AUTH: 3,
  RATE_LIMITED: 4,
  /** Network, server or token-store failure. */
  NETWORK: 5,
  /** `hpauth request`: the API's final answer was an HTTP error status (4xx/5xx); its body is still printed. */
  HTTP_ERROR: 6,
  /** `hpauth doctor`: at least one check failed (the report says which and what to do). */
  CHECK_FAILED: 7,
  CANCELLED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const CATEGORY: Record<ErrorCode, ErrorCategory> = {
  USAGE: "usage",
  CONFIG_INVALID: "usage",
  PROFILE_NOT_FOUND: "usage",
  SECRET_UNAVAILABLE: "usage",
  LOGIN_REQUIRED: "auth",
  INVALID_CLIENT: "auth",
  INVALID_GRANT: "auth",
  ACCESS_DENIED: "auth",
  STATE_MISMATCH: "auth",
  UNAUTHORIZED: "auth",
  RATE_LIMITED: "rate_limited",
  LOGIN_BUDGET_EXHAUSTED: "rate_limited",
  NETWORK_ERROR: "network",
  TIMEOUT: "network",
  SERVER_ERROR: "network",
  INVALID_RESPONSE: "network",
  ANSWER_LOST: "network",
  LOCK_TIMEOUT: "network",
  // The environment (a damaged file, a directory owned by someone else, an unreachable Redis), not a bug in hpauth.
  STORE_ERROR: "store",
  CANCELLED: "cancelled",
  INTERNAL: "internal",
};

const EXIT_BY_CATEGORY: Record<ErrorCategory, ExitCode> = {
  usage: ExitCode.USAGE,
  auth: ExitCode.AUTH,
  rate_limited: ExitCode.RATE_LIMITED,
  network: ExitCode.NETWORK,
  store: ExitCode.NETWORK,
  cancelled: ExitCode.CANCELLED,
  internal: ExitCode.INTERNAL,
};

export interface HpauthErrorOptions {
  /** What the user should do next, one sentence ("Run `hpauth login --profile x`."). */
  hint?: string;
  /** When the next attempt is allowed (rate limits, Aruba's login budget). */
  retryAt?: Date;
  /** HTTP status of the response that caused this, if any. */
  status?: number;
  /** Provider id and profile name, for messages. */
  provider?: string;
  profile?: string;
  /** The OAuth `error` value from the server, if any (already safe: it is an enum-like string). */
  oauthError?: string;
  cause?: unknown;
  /** Raw response; kept non-enumerable. Its body must never be printed unredacted. */
  response?: Response;
}

export class HpauthError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly retryAt?: Date;
  readonly status?: number;
  readonly provider?: string;
  readonly profile?: string;
  readonly oauthError?: string;
  declare readonly response?: Response;

  constructor(code: ErrorCode, message: string, options: HpauthErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HpauthError";
    this.code = code;
    if (options.hint !== undefined) this.hint = options.hint;
    if (options.retryAt !== undefined) this.retryAt = options.retryAt;
    if (options.status !== undefined) this.status = options.status;
    if (options.provider !== undefined) this.provider = options.provider;
    if (options.profile !== undefined) this.profile = options.profile;
    if (options.oauthError !== undefined) this.oauthError = options.oauthError;
    Object.defineProperty(this, "response", { value: options.response, enumerable: false, writable: false });
  }

  get category(): ErrorCategory {
    return CATEGORY[this.code];
  }

  get exitCode(): ExitCode {
    return EXIT_BY_CATEGORY[this.category];
  }

  /** A JSON-safe view for `--json` error output. Contains no secret by construction. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      category: this.category,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      // RFC 3339 UTC to the second, rounded up: a caller waiting until retry_at is never early.
      ...(this.retryAt ? { retry_at: rfc3339(this.retryAt, "up") ?? null } : {}),
      ...(this.status ? { status: this.status } : {}),
      ...(this.provider ? { provider: this.provider } : {}),
      ...(this.profile ? { profile: this.profile } : {}),
      ...(this.oauthError ? { oauth_error: this.oauthError } : {}),
    };
  }
}

export function isHpauthError(e: unknown): e is HpauthError {
  return e instanceof HpauthError;
}

/** Exit code for anything thrown: typed errors by category, anything else is internal. */
export function exitCodeFor(e: unknown): ExitCode {
  return isHpauthError(e) ? e.exitCode : ExitCode.INTERNAL;
}
