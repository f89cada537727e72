/**
 * Token stores: one record per credential (plus small bookkeeping records such as Aruba's login budget,
 * which is per client id). Implementations: MemoryTokenStore, FileTokenStore (the default), later Redis.
 */
import type { ProviderId } from "../engine/types.js";

/** What a store keeps for one credential. Secrets of the *client* (client secret, password) never go here. */
export interface TokenRecord {
  v: 1;
  provider: ProviderId;
  /** Profile name it was last written by (informational; the key is what identifies the credential). */
  profile?: string;
  accessToken?: string;
  tokenType?: string;
  /** Epoch ms after which the engine no longer trusts the access token (already capped). */
  expiresAt?: number;
  /** Epoch ms the access token was obtained. */
  obtainedAt?: number;
  scope?: string;
  refreshToken?: string;
  /** Epoch ms the current refresh token was issued (rotation resets it). */
  refreshTokenIssuedAt?: number;
  /** Epoch ms of the last successful refresh (Aruba refresh tokens die after ~15 idle days). */
  lastRefreshAt?: number;
  /** Epoch ms a full login last created a token (Aruba: one per 30 minutes per client id). */
  lastLoginAt?: number;
  /**
   * Epoch ms a refresh of this record's refresh token was sent whose outcome is not known yet: written (durably)
   * under the lock before the request, gone from the record that saves its result. Found by a later holder, it means
   * the answer was lost (a timeout, a dropped connection, a process killed mid-refresh): if the server then refuses
   * the refresh token, that refresh rotated it and the rotation is lost.
   */
  refreshPendingSince?: number;
  /** Last failure, for `status`. The message is already redacted. */
  lastError?: { code: string; message: string; at: number };
  /** Non-secret extras from the token response (Identity: cc_id, domain, …). */
  meta?: Record<string, unknown>;
  /** Epoch ms of this write. */
  updatedAt: number;
}

export interface LockOptions {
  /** Give up waiting after this long (default: the store's own, a few minutes for interactive logins). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface SetOptions {
  /**
   * A precondition on the record currently stored, checked when the writer's lock on the key was lost (a stall
   * past the stale window let another process take it over). If it holds — the record is still the one the writer
   * based its work on — the write goes ahead: refusing it would throw away the only copy of a just-rotated refresh
   * token. If not, someone else moved on and the write is refused. Without it, a write under a lost lock is refused.
   */
  ifCurrent?: (current: TokenRecord | undefined) => boolean;
}

export interface TokenStore {
  /** "memory", "file", "redis", … for status output. */
  readonly kind: string;
  /** Where the records are, for status output (a directory, a Redis URL without its password). */
  readonly location?: string;
  get(key: string): Promise<TokenRecord | undefined>;
  /** Atomic replace: a reader sees the old record or the new one, never a mix, even if the writer dies. */
  set(key: string, record: TokenRecord, options?: SetOptions): Promise<void>;
  delete(key: string): Promise<void>;
  list(): Promise<string[]>;
  /**
   * Runs `fn` holding an exclusive lock on `key` — across async callers in this process and across
   * processes (file store) or hosts (Redis). A holder that crashed does not block others forever.
   * Callers re-read the record after the lock is taken.
   */
  withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T>;
  close?(): Promise<void>;
}
