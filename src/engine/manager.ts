/**
 * TokenManager: one credential's tokens, done right for many callers. Serves a cached token while it has life
 * left; refreshes before expiry with exactly one refresh in flight per credential — single-flight across async
 * callers in this process, and the store's lock across processes and hosts (the record is re-read once the lock
 * is held: someone else may have refreshed already). A rotated refresh token is persisted before the new access
 * token is handed out. A new login happens only when the grant is really dead, and for Aruba only within the
 * one-login-per-30-minutes budget, which lives in the store so every process and profile sees it.
 */

import { MemoryTokenStore } from "../stores/memory.js";
import type { TokenRecord, TokenStore } from "../stores/types.js";
import { clampTimeMs, rfc3339 } from "./dates.js";
import { formatDuration, formatMs } from "./duration.js";
import { HpauthError, isHpauthError } from "./errors.js";
import { DEFAULT_MARGIN_SECONDS, isFresh, recordToken, refreshMargin } from "./fresh.js";
import { DEFAULT_RETRY, type EventInput, type HttpContext, type RetryPolicy } from "./http.js";
import { jwtExpiry } from "./jwt.js";
import { Network } from "./network.js";
import { credentialKey, loginBudgetKey, validateProfile } from "./profile.js";
import { getProvider } from "./providers/index.js";
import type { FlowContext, ProviderDefinition, ResolvedProfile, TokenSet } from "./providers/types.js";
import { redact } from "./redact.js";
import { defaultRuntime, type Runtime } from "./runtime.js";
import { resolveSecret, type SecretField } from "./secrets.js";
import type { AccessToken, EngineEvent, InteractiveAuthorizer, NamedProfile, ProviderId } from "./types.js";

export interface TokenManagerOptions {
  /** Validated in the constructor (throws CONFIG_INVALID). */
  profile: NamedProfile;
  /** Default: a new MemoryTokenStore. */
  store?: TokenStore;
  runtime?: Partial<Runtime>;
  /** Browser logins (techpulse, oauth2 authorization_code); absent → LOGIN_REQUIRED. */
  authorizer?: InteractiveAuthorizer;
  /** Redacted events for --verbose. */
  onEvent?: (e: EngineEvent) => void;
  /** Refresh this long before expiry (default 60), plus jitter up to 10% of the lifetime (at most 60 s). */
  refreshMarginSeconds?: number;
  lockTimeoutMs?: number;
  /**
   * Retries of transient failures at identity endpoints (attempts, backoff, per-attempt timeout), and the much
   * longer timeout of requests that are sent once (`nonIdempotentTimeoutMs`, default 120 s: refreshes, code
   * exchanges). docs/reliability.md.
   */
  retry?: Partial<RetryPolicy>;
  /**
   * Before each refresh, write a "refresh in flight" marker to the record (under the lock, durably), cleared by
   * the write that saves the outcome; a later holder that finds it knows the answer of that refresh was lost.
   * Costs one store write per refresh, none on the cached path (BENCHMARKS.md). Default true.
   */
  refreshMarker?: boolean;
  /** Timeout of a secret command (default 30 s). */
  secretCommandTimeoutMs?: number;
}

export interface TokenStatus {
  profile: string;
  provider: ProviderId;
  key: string;
  store: string;
  state: "valid" | "expiring" | "expired" | "none";
  expiresAt?: Date;
  expiresInSeconds?: number;
  /** When the stored access token was obtained (a status can then tell an error before it from one after it). */
  obtainedAt?: Date;
  scope?: string;
  hasRefreshToken: boolean;
  refreshTokenIssuedAt?: Date;
  refreshTokenAgeSeconds?: number;
  /**
   * When the stored refresh token stops working unless refreshed before: the provider's documented idle limit from
   * its last issue or use, or a JWT refresh token's own `exp`. Absent when unknown.
   */
  refreshTokenExpiresAt?: Date;
  lastRefreshAt?: Date;
  lastLoginAt?: Date;
  /** Aruba: when its one-login-per-30-minutes budget allows the next login. */
  nextLoginAllowedAt?: Date;
  warnings: string[];
  lastError?: { code: string; message: string; at: Date };
}

export interface GetTokenOptions {
  forceRefresh?: boolean;
  minTtlSeconds?: number;
  signal?: AbortSignal;
}

/** What `refreshGrant()` did. */
export interface GrantRefresh {
  /**
   * `refreshed`: the refresh token was used and (where the provider rotates) replaced; `not_needed`: it lives past
   * the moment asked for (typically another process refreshed meanwhile); `no_refresh_token`: nothing to refresh —
   * the provider has no refresh grant, or no refresh token is stored; `would_refresh`: with `dryRun`, what
   * `refreshed` would have been (nothing sent).
   */
  outcome: "refreshed" | "would_refresh" | "not_needed" | "no_refresh_token";
  /** For `no_refresh_token`: why, in a sentence. */
  reason?: string;
  /** When the (new) refresh token stops working unless refreshed before; absent when unknown. */
  refreshTokenExpiresAt?: Date;
  /** `refreshed`: the new access token. */
  token?: AccessToken;
}

interface ObtainRequest {
  force: boolean;
  /** With force: the token found bad; if the store already holds another one, that one is served instead. */
  staleToken?: string;
  minTtlMs: number;
  signal?: AbortSignal;
}

/** The GreenLake gateways, which may answer an expired token with an HPE_GL_ERROR body instead of a plain 401. */
const GL_ERROR_PROVIDERS: ReadonlySet<ProviderId> = new Set(["greenlake", "greenlake-platform", "new-central"]);
const LOCK_WAIT_NOTICE_MS = 200;

function grantIsDead(e: unknown): boolean {
  return isHpauthError(e) && (e.code === "INVALID_GRANT" || e.code === "UNAUTHORIZED");
}

export class TokenManager {
  readonly profile: ResolvedProfile;
  readonly key: string;
  readonly #def: ProviderDefinition;
  readonly #store: TokenStore;
  readonly #rt: Runtime;
  /** The profile's proxy and CA settings; absent when the caller injected its own fetch. */
  readonly network: Network | undefined;
  readonly #authorizer?: InteractiveAuthorizer;
  readonly #onEvent?: (e: EngineEvent) => void;
  readonly #marginMs: number;
  readonly #jitter: number;
  readonly #lockTimeoutMs?: number;
  readonly #retry: RetryPolicy;
  readonly #secretTimeoutMs?: number;
  readonly #refreshMarker: boolean;
  readonly #secrets = new Map<SecretField, Promise<string>>();
  /** Values to mask in messages: resolved secrets and the latest tokens. */
  readonly #known: string[] = [];
  #inflight?: { promise: Promise<AccessToken>; force: boolean };
  /** Token exchange: the credential whose token is the subject (an MSP's own), with its own key, lock and cache. */
  readonly #subject?: TokenManager;

  constructor(options: TokenManagerOptions) {
    this.profile = validateProfile(options.profile);
    this.#def = getProvider(this.profile.provider);
    this.key = credentialKey(this.profile);
    this.#store = options.store ?? new MemoryTokenStore();
    const rt = defaultRuntime(options.runtime);
    if (options.runtime?.fetch) this.network = undefined;
    else {
      // HTTPS_PROXY / NO_PROXY / the profile's proxy and ca_file, for identity and API requests alike.
      this.network = new Network({
        env: rt.env,
        ...(this.profile.proxy ? { proxy: this.profile.proxy } : {}),
        ...(this.profile.caFile ? { caFile: this.profile.caFile } : {}),
      });
      rt.fetch = this.network.fetch;
    }
    this.#rt = rt;
    if (options.authorizer) this.#authorizer = options.authorizer;
    if (options.onEvent) this.#onEvent = options.onEvent;
    this.#marginMs = (options.refreshMarginSeconds ?? DEFAULT_MARGIN_SECONDS) * 1000;
    const [a = 0, b = 0] = this.#rt.randomBytes(2);
    this.#jitter = (a * 256 + b) / 65536;
    if (options.lockTimeoutMs !== undefined) this.#lockTimeoutMs = options.lockTimeoutMs;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    if (options.secretCommandTimeoutMs !== undefined) this.#secretTimeoutMs = options.secretCommandTimeoutMs;
    this.#refreshMarker = options.refreshMarker ?? true;
    const subject = this.#def.subjectProfile?.(options.profile, this.profile);
    if (subject) this.#subject = new TokenManager({ ...options, profile: subject, store: this.#store });
  }

  /** Token exchange profiles: the manager of the subject credential (the MSP's own token), else undefined. */
  get subjectManager(): TokenManager | undefined {
    return this.#subject;
  }

  // ---- public surface -------------------------------------------------------------------------------------

  async getToken(opts: GetTokenOptions = {}): Promise<AccessToken> {
    const minTtlMs = Math.max(0, (opts.minTtlSeconds ?? 0) * 1000);
    const rec = await this.#read();
    if (!opts.forceRefresh && this.#fresh(rec, minTtlMs)) {
      this.#emit({
        type: "cache",
        message: "token served from the store",
        expiresAt: new Date(rec?.expiresAt ?? 0).toISOString(),
      });
      return this.#toAccessToken(rec as TokenRecord, "cache");
    }
    return this.#flight({
      force: !!opts.forceRefresh,
      ...(opts.forceRefresh && rec?.accessToken ? { staleToken: rec.accessToken } : {}),
      minTtlMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  /**
   * A new grant now, whatever the store holds (Aruba: only within the login budget).
   * `unlessLoggedInSince` (epoch ms): if, once the lock is ours, the store shows a login that finished after that
   * moment and its token is still good, that login — another process's answer to the same request — is served
   * instead of starting a second one (one browser tab for N concurrent `hpauth login`s).
   */
  async login(opts: { signal?: AbortSignal; unlessLoggedInSince?: number } = {}): Promise<AccessToken> {
    return this.#locked(opts.signal, async () => {
      const prev = await this.#read();
      const since = opts.unlessLoggedInSince;
      if (since !== undefined && prev?.lastLoginAt !== undefined && prev.lastLoginAt >= since && this.#fresh(prev, 0)) {
        this.#emit({ type: "login_joined", message: "another caller logged in meanwhile; serving its token" });
        return this.#toAccessToken(prev, "cache");
      }
      return this.#loginLocked(prev, opts.signal);
    });
  }

  /** Takes a token pair made elsewhere (Aruba's UI, a colleague's export); validates it by refreshing when needed. */
  async importTokens(input: { accessToken?: string; refreshToken: string; expiresIn?: number }): Promise<AccessToken> {
    const p = this.profile;
    const canRefresh = this.#def.supportsRefresh(p);
    if ((!canRefresh || !input.refreshToken) && !input.accessToken) {
      // An empty refresh token is nothing to refresh with: said here, not as an internal error of the refresh.
      const why = canRefresh
        ? "Nothing to import: give a refresh token or an access token"
        : `${this.#def.title} has no refresh grant: import needs an access token`;
      throw new HpauthError("USAGE", why, {
        provider: p.provider,
        profile: p.name,
      });
    }
    this.#remember(input.accessToken, input.refreshToken);
    return this.#locked(undefined, async () => {
      const prev = await this.#read();
      const now = this.#rt.now();
      const lifetime =
        input.expiresIn !== undefined
          ? input.expiresIn
          : input.accessToken && jwtExpiry(input.accessToken) !== undefined
            ? ((jwtExpiry(input.accessToken) ?? now) - now) / 1000
            : undefined;
      const set: TokenSet = { accessToken: input.accessToken ?? "" };
      if (lifetime !== undefined) set.expiresIn = lifetime;
      if (canRefresh && input.refreshToken) set.refreshToken = input.refreshToken;
      if (input.accessToken && lifetime !== undefined && lifetime * 1000 > this.#marginFor(lifetime * 1000)) {
        const rec = await this.#persist(set, "login", prev, { imported: true });
        this.#emit({ type: "import", message: "imported an access token and refresh token" });
        return this.#toAccessToken(rec, "login");
      }
      if (!canRefresh || !input.refreshToken) {
        throw new HpauthError("INVALID_GRANT", "The imported access token is expired or its lifetime is unknown", {
          provider: p.provider,
          profile: p.name,
          hint: "Pass expiresIn with the token, or obtain a new one.",
        });
      }
      // No usable access token: the refresh proves the refresh token works (and rotates it).
      try {
        return await this.#refreshLocked(
          { ...(prev ?? this.#emptyRecord()), refreshToken: input.refreshToken },
          undefined,
          {
            imported: true,
          },
        );
      } catch (e) {
        if (grantIsDead(e)) {
          throw new HpauthError("INVALID_GRANT", "The imported refresh token was refused by the server", {
            provider: p.provider,
            profile: p.name,
            hint: "Create a new token pair (Aruba: API Gateway → My Apps & Tokens) and import that.",
            cause: e,
          });
        }
        throw e;
      }
    });
  }

  /**
   * Refreshes the stored refresh token now, so it does not die unused (`hpauth keepalive`): a refresh only, never a
   * new login — Aruba's login budget is not touched, and a refused refresh token is an error (LOGIN_REQUIRED, exit 3)
   * that says a login is needed rather than one being made behind the caller's back. Under the credential's lock,
   * like every refresh: the record is re-read once the lock is held, so with `unlessLivesPast` (epoch ms) nothing is
   * sent when the stored refresh token is known to live past that moment (another process refreshed meanwhile).
   * A refresh token of unknown lifetime is refreshed. An in-process refresh already in flight is waited for first.
   * `dryRun`: the same decision from the store as it is now, without the lock; nothing is sent or written.
   */
  async refreshGrant(
    opts: { signal?: AbortSignal; unlessLivesPast?: number; dryRun?: boolean } = {},
  ): Promise<GrantRefresh> {
    const p = this.profile;
    if (!this.#def.refresh || !this.#def.supportsRefresh(p)) {
      return {
        outcome: "no_refresh_token",
        reason: `${this.#def.title} has no refresh grant: a new token is obtained with the stored credentials when needed, so nothing dies unused`,
      };
    }
    if (opts.dryRun) {
      const rec = await this.#read();
      const dies = rec ? this.#refreshTokenDiesAt(rec) : undefined;
      return (
        this.#refreshGrantNotNeeded(rec, opts.unlessLivesPast) ?? {
          outcome: "would_refresh",
          ...(dies !== undefined ? { refreshTokenExpiresAt: new Date(dies) } : {}),
        }
      );
    }
    await this.#inflight?.promise.catch(() => {});
    return this.#locked(opts.signal, async () => {
      const rec = await this.#read();
      const skip = this.#refreshGrantNotNeeded(rec, opts.unlessLivesPast);
      if (skip || !rec) return skip ?? { outcome: "no_refresh_token" };
      const dies = this.#refreshTokenDiesAt(rec);
      let token: AccessToken;
      try {
        token = await this.#refreshLocked(rec, opts.signal);
      } catch (e) {
        if (!grantIsDead(e)) throw e;
        // Rotated meanwhile by a holder whose lock ours replaced (a lock broken as stale): the grant lives.
        const again = await this.#read();
        if (again?.refreshToken && again.refreshToken !== rec.refreshToken) {
          const next = this.#refreshTokenDiesAt(again);
          return { outcome: "not_needed", ...(next !== undefined ? { refreshTokenExpiresAt: new Date(next) } : {}) };
        }
        throw new HpauthError(
          "LOGIN_REQUIRED",
          `The stored refresh token of profile "${p.name}" was refused by ${this.#def.title}${dies !== undefined && dies <= this.#rt.now() ? ` (unused past its lifetime: it expired at ${rfc3339(dies)})` : " (expired, revoked, or already used)"}; no new login was attempted`,
          {
            provider: p.provider,
            profile: p.name,
            hint: `Run \`hpauth login -p ${p.name}\` (or any \`hpauth token -p ${p.name}\`) to get a new grant${this.#def.loginBudget ? `; ${this.#def.title} allows one new login per ${formatDuration(this.#def.loginBudget.windowSeconds)}` : ""}.`,
            cause: e,
          },
        );
      }
      const saved = await this.#read();
      const next = saved ? this.#refreshTokenDiesAt(saved) : undefined;
      return { outcome: "refreshed", token, ...(next !== undefined ? { refreshTokenExpiresAt: new Date(next) } : {}) };
    });
  }

  /**
   * The API refused `rejectedToken`: returns a token to retry with. Every caller that saw the same token refused
   * shares one refresh (in this process through the in-flight join, across processes and hosts through the store
   * lock and the re-read under it); a caller whose rejected token was already replaced gets the newer one at once.
   * For layers that send the request themselves (the proxy, the undici interceptor, openapi-fetch middleware):
   * send with `getToken()`, and on `isAuthFailure(res)` call this once and retry once — never a loop.
   */
  async renewRejected(rejectedToken: string, opts: { signal?: AbortSignal } = {}): Promise<AccessToken> {
    return this.#flight({
      force: true,
      staleToken: rejectedToken,
      minTtlMs: 0,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  /**
   * Whether an API response means the token was refused: 401, and the provider's own variants (GreenLake may answer
   * an expired token with an HPE_GL_ERROR 400/403 body). Reads a clone of the body only for those variants.
   */
  async isAuthFailure(res: Pick<Response, "status" | "clone">): Promise<boolean> {
    if (res.status === 401) return true;
    if (GL_ERROR_PROVIDERS.has(this.profile.provider) && (res.status === 400 || res.status === 403)) {
      const text = await res
        .clone()
        .text()
        .catch(() => "");
      return text.includes("HPE_GL_ERROR") && /expired/i.test(text);
    }
    return false;
  }

  /** Resolves a path against the profile's API base (or checks an absolute URL is the profile's API origin). */
  apiUrl(input: string | URL): URL {
    return this.#resolveUrl(input);
  }

  /** fetch with the Bearer header; relative paths resolve against the API base; a 401 → one refresh, one retry. */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const url = this.#resolveUrl(input);
    const signal = init.signal ?? undefined;
    const token = await this.getToken(signal ? { signal } : {});
    const res = await this.#rt.fetch(url, this.#withAuth(init, token.accessToken));
    if (!(await this.isAuthFailure(res))) return res;
    if (!replayable(init.body)) {
      this.#emit({
        type: "unauthorized",
        message: `HTTP ${res.status} on ${url.origin}; body not replayable, not retried`,
        status: res.status,
      });
      return res;
    }
    await res.body?.cancel().catch(() => {});
    this.#emit({
      type: "unauthorized",
      message: `HTTP ${res.status} on ${url.origin}: refreshing once and retrying`,
      status: res.status,
    });
    const fresh = await this.renewRejected(token.accessToken, signal ? { signal } : {});
    // One retry, never a loop: whatever this answers is the caller's.
    return this.#rt.fetch(url, this.#withAuth(init, fresh.accessToken));
  }

  /**
   * fetch through the profile's network (proxy, CAs) without adding any credential: for callers that add the
   * Bearer header themselves (`hpauth request`). The runtime's fetch when one was injected.
   */
  transport(input: string | URL, init?: RequestInit): Promise<Response> {
    return this.#rt.fetch(input, init);
  }

  /** Marks a token as bad (the API refused it): the next getToken refreshes. */
  async invalidate(accessToken: string): Promise<void> {
    await this.#locked(undefined, async () => {
      const rec = await this.#read();
      if (rec?.accessToken === accessToken) {
        await this.#store.set(this.key, { ...rec, expiresAt: 0, updatedAt: this.#rt.now() });
        this.#emit({ type: "invalidate", message: "access token marked invalid" });
      }
    });
  }

  /** No network: what the store says about this credential. */
  async status(): Promise<TokenStatus> {
    const rec = await this.#read();
    const now = this.#rt.now();
    const s: TokenStatus = {
      profile: this.profile.name,
      provider: this.profile.provider,
      key: this.key,
      store: this.#store.kind,
      state: "none",
      hasRefreshToken: !!rec?.refreshToken,
      warnings: [],
    };
    if (rec?.accessToken && rec.expiresAt !== undefined) {
      s.expiresAt = new Date(rec.expiresAt);
      s.expiresInSeconds = Math.floor((rec.expiresAt - now) / 1000);
      s.state = rec.expiresAt <= now ? "expired" : this.#fresh(rec, 0) ? "valid" : "expiring";
      if (rec.obtainedAt !== undefined) s.obtainedAt = new Date(rec.obtainedAt);
    }
    if (rec?.scope) s.scope = rec.scope;
    if (rec?.refreshToken && rec.refreshTokenIssuedAt !== undefined) {
      s.refreshTokenIssuedAt = new Date(rec.refreshTokenIssuedAt);
      s.refreshTokenAgeSeconds = Math.floor((now - rec.refreshTokenIssuedAt) / 1000);
    }
    const dies = rec?.refreshToken ? this.#refreshTokenDiesAt(rec) : undefined;
    if (dies !== undefined) s.refreshTokenExpiresAt = new Date(dies);
    if (rec?.lastRefreshAt !== undefined) s.lastRefreshAt = new Date(rec.lastRefreshAt);
    if (rec?.lastLoginAt !== undefined) s.lastLoginAt = new Date(rec.lastLoginAt);
    if (rec?.lastError) s.lastError = { ...rec.lastError, at: new Date(rec.lastError.at) };
    if (this.#def.loginBudget) {
      const budget = await this.#store.get(loginBudgetKey(this.profile));
      const next = (budget?.lastLoginAt ?? 0) + this.#def.loginBudget.windowSeconds * 1000;
      if (budget?.lastLoginAt !== undefined && next > now) s.nextLoginAllowedAt = new Date(next);
    }
    s.warnings = this.#def.warnings?.(this.profile, rec, now) ?? [];
    if (rec?.refreshPendingSince !== undefined) {
      s.warnings.push(
        `a refresh sent at ${new Date(rec.refreshPendingSince).toISOString()} got no answer; the next refresh tells whether the server had rotated the refresh token (then a new login is needed)`,
      );
    }
    return s;
  }

  /** Forgets this credential's tokens (Aruba's login budget record stays: it is about the client id). */
  async logout(): Promise<void> {
    await this.#locked(undefined, async () => {
      await this.#store.delete(this.key);
      this.#emit({ type: "logout", message: "stored tokens deleted" });
    });
  }

  // ---- the flight: one refresh/login per credential at a time ----------------------------------------------

  #flight(req: ObtainRequest): Promise<AccessToken> {
    const current = this.#inflight;
    if (current) {
      // Join the flight in progress; a forced caller whose stale token came back anyway goes again.
      return current.promise.then((t) =>
        req.force && req.staleToken !== undefined && t.accessToken === req.staleToken ? this.#flight(req) : t,
      );
    }
    const promise = this.#obtain(req).finally(() => {
      if (this.#inflight?.promise === promise) this.#inflight = undefined;
    });
    this.#inflight = { promise, force: req.force };
    return promise;
  }

  async #obtain(req: ObtainRequest): Promise<AccessToken> {
    return this.#locked(req.signal, async () => {
      // Re-read under the lock: another process may have refreshed while we waited.
      const rec = await this.#read();
      const replaced = req.force && rec?.accessToken !== undefined && rec.accessToken !== req.staleToken;
      if ((!req.force || replaced) && this.#fresh(rec, req.minTtlMs)) {
        this.#emit({ type: "cache", message: "token refreshed meanwhile by another caller; served from the store" });
        return this.#toAccessToken(rec as TokenRecord, "cache");
      }
      if (rec?.refreshToken && this.#def.supportsRefresh(this.profile)) {
        // A marker left by an earlier holder: that refresh's answer was lost (see TokenRecord.refreshPendingSince).
        const lostRefreshAt = rec.refreshPendingSince;
        try {
          return await this.#refreshLocked(rec, req.signal);
        } catch (e) {
          if (!grantIsDead(e)) {
            // A transient failure while the token still has life: serve it, the next call tries again.
            const left = (rec.expiresAt ?? 0) - this.#rt.now();
            if (isHpauthError(e) && e.category === "network" && !req.force && rec.accessToken && left > req.minTtlMs) {
              this.#emit({
                type: "refresh_deferred",
                message: `refresh failed (${e.code}); serving the current token, ${formatMs(left)} left`,
              });
              return this.#toAccessToken(rec, "cache");
            }
            throw e;
          }
          // invalid_grant: maybe another process rotated the refresh token under our feet (a store without a
          // real lock, or a lock that was broken as stale). Re-read before declaring the grant dead.
          const again = await this.#read();
          if (again?.refreshToken && again.refreshToken !== rec.refreshToken) {
            if (this.#fresh(again, req.minTtlMs) && again.accessToken !== req.staleToken) {
              return this.#toAccessToken(again, "cache");
            }
            try {
              return await this.#refreshLocked(again, req.signal);
            } catch (e2) {
              if (!grantIsDead(e2)) throw e2;
            }
          }
          this.#emit({
            type: "grant_dead",
            message:
              lostRefreshAt !== undefined
                ? `the refresh token was refused: the refresh sent at ${new Date(lostRefreshAt).toISOString()}, whose answer was lost, had rotated it; a new login is needed`
                : "the refresh token was refused; a new login is needed",
          });
          const base = again ?? rec;
          const { refreshToken: _dead, refreshTokenIssuedAt: _issued, ...rest } = base;
          // A forced refresh means the API refused the access token: it died with its grant, forget it too.
          if (req.force && rest.accessToken === req.staleToken) {
            delete rest.accessToken;
            delete rest.expiresAt;
          }
          await this.#store.set(this.key, { ...rest, updatedAt: this.#rt.now() });
          try {
            return await this.#loginLocked({ ...rest, updatedAt: this.#rt.now() }, req.signal);
          } catch (e3) {
            throw this.#explainDeadGrant(e3, lostRefreshAt);
          }
        }
      }
      return this.#loginLocked(rec, req.signal);
    });
  }

  async #refreshLocked(
    rec: TokenRecord,
    signal?: AbortSignal,
    extra: Record<string, unknown> = {},
  ): Promise<AccessToken> {
    const refresh = this.#def.refresh;
    if (!refresh || !rec.refreshToken) throw new HpauthError("INTERNAL", "refresh without a refresh grant");
    this.#remember(rec.refreshToken);
    const started = this.#rt.now();
    // The marker goes to the store before the request does: should the answer be lost (or this process die), the next
    // holder knows a refresh of this refresh token was sent. A store that cannot take it fails the refresh unsent.
    // Not for an import: its refresh token is not in the store yet (a refused import must not overwrite the stored
    // grant), and the user still holds it should the answer be lost.
    const marking = this.#refreshMarker && !extra.imported ? await this.#markRefreshPending(rec) : { marked: rec };
    if ("newer" in marking) return this.#toAccessToken(marking.newer, "cache");
    const base = marking.marked;
    try {
      const ctx = this.#flowContext(signal);
      // A refresh that reached the server may have rotated the refresh token: Ctrl-C must not throw its answer away.
      ctx.http.finishSentRequests = true;
      const set = await refresh.call(this.#def, ctx, rec.refreshToken);
      // Rotation: the new refresh token is written before anyone sees the new access token. The saved record has
      // no marker: the outcome is known.
      const saved = await this.#persist(set, "refresh", base, extra);
      this.#emit({
        type: "refresh",
        message: `token refreshed in ${formatMs(this.#rt.now() - started)}${set.refreshToken && set.refreshToken !== rec.refreshToken ? " (refresh token rotated)" : ""}`,
      });
      return this.#toAccessToken(saved, "refresh");
    } catch (e) {
      // The marker stays only when the outcome is unknown: ANSWER_LOST, or something that is not ours (a bug). Any
      // other failure is a known outcome (an answer, or nothing sent) and clears it in the same write as lastError.
      // A 2xx whose body is unusable (no access_token, a wrong token_type) counts as unknown too: the server did
      // answer "done", so it may have rotated.
      const unknown =
        !isHpauthError(e) ||
        e.code === "ANSWER_LOST" ||
        (e.code === "INVALID_RESPONSE" && e.status !== undefined && e.status >= 200 && e.status < 300);
      await this.#recordError(e, { clearPending: !unknown });
      throw e;
    }
  }

  /**
   * Writes the refresh-in-flight marker. Refused because another holder saved a newer token meanwhile (our lease ran
   * out while we were paused, before anything was sent): that token is served instead and nothing is sent.
   */
  async #markRefreshPending(rec: TokenRecord): Promise<{ marked: TokenRecord } | { newer: TokenRecord }> {
    const now = this.#rt.now();
    const marked: TokenRecord = { ...rec, refreshPendingSince: now, updatedAt: now };
    try {
      await this.#store.set(this.key, marked, {
        ifCurrent: (cur) => cur?.accessToken === rec.accessToken && cur?.refreshToken === rec.refreshToken,
      });
    } catch (e) {
      const newer = await this.#newerSaved(rec.accessToken);
      if (newer) return { newer };
      throw new HpauthError(
        "STORE_ERROR",
        `Could not write to the ${this.#store.kind} store before refreshing (nothing was sent): ${(e as Error).message}`,
        { provider: this.profile.provider, profile: this.profile.name, hint: "Check the token store.", cause: e },
      );
    }
    return { marked };
  }

  async #loginLocked(prev: TokenRecord | undefined, signal?: AbortSignal): Promise<AccessToken> {
    const p = this.profile;
    if (this.#def.interactive(p) && !this.#authorizer) {
      const hasDeadRefresh = prev?.accessToken !== undefined;
      throw new HpauthError(
        "LOGIN_REQUIRED",
        `Profile "${p.name}" (${this.#def.title}) needs a browser login${hasDeadRefresh ? ": the stored grant can no longer be refreshed" : ""}`,
        {
          provider: p.provider,
          profile: p.name,
          hint: `Run \`hpauth login --profile ${p.name}\` in a browser-capable terminal.`,
        },
      );
    }
    const release = this.#def.loginBudget ? await this.#claimLoginBudget() : undefined;
    const started = this.#rt.now();
    this.#emit({ type: "login_start", message: "requesting a new grant" });
    try {
      const ctx = this.#flowContext(signal);
      if (release) ctx.releaseLoginBudget = release;
      const set = await this.#def.login(ctx);
      const saved = await this.#persist(set, "login", prev);
      this.#emit({ type: "login", message: `new grant obtained in ${formatMs(this.#rt.now() - started)}` });
      return this.#toAccessToken(saved, "login");
    } catch (e) {
      // Failures before any request was made cannot have spent Aruba's budget.
      if (release && isHpauthError(e) && (e.code === "CONFIG_INVALID" || e.code === "SECRET_UNAVAILABLE"))
        await release();
      await this.#recordError(e);
      throw e;
    }
  }

  /**
   * A login that could not replace a dead grant says why the grant died, not only why the login is refused: the
   * user otherwise sees "one login per 30 minutes" with no idea that the refresh token was the problem.
   */
  #explainDeadGrant(e: unknown, lostRefreshAt?: number): unknown {
    if (!isHpauthError(e) || (e.code !== "LOGIN_BUDGET_EXHAUSTED" && e.code !== "LOGIN_REQUIRED")) return e;
    // With the marker the cause is known: a refresh of this very token was sent and its answer never recorded.
    const why =
      lostRefreshAt !== undefined
        ? `: a refresh sent at ${new Date(lostRefreshAt).toISOString()} got no answer (timed out, connection lost, or the process was killed), and the server had rotated the refresh token then, so the rotation is lost`
        : " (revoked, expired, or already used by a refresh whose answer never arrived — e.g. a process killed mid-refresh)";
    return new HpauthError(e.code, `The stored refresh token was refused by ${this.#def.title}${why}. ${e.message}`, {
      ...(e.hint ? { hint: e.hint } : {}),
      ...(e.retryAt ? { retryAt: e.retryAt } : {}),
      provider: this.profile.provider,
      profile: this.profile.name,
      cause: e,
    });
  }

  /** Claims Aruba's login budget in the store BEFORE step 1, so a crash mid-login cannot let a second login through. */
  async #claimLoginBudget(): Promise<() => Promise<void>> {
    const budget = this.#def.loginBudget;
    if (!budget) return async () => {};
    const key = loginBudgetKey(this.profile);
    const windowMs = budget.windowSeconds * 1000;
    const claimedAt = this.#rt.now();
    const previous = await this.#store.withLock(
      key,
      async () => {
        const rec = await this.#store.get(key);
        const now = this.#rt.now();
        if (rec?.lastLoginAt !== undefined && now < rec.lastLoginAt + windowMs) {
          const retryAt = new Date(rec.lastLoginAt + windowMs);
          throw new HpauthError(
            "LOGIN_BUDGET_EXHAUSTED",
            `${this.#def.title} allows one new login per client id per ${formatDuration(budget.windowSeconds)}; the last was at ${new Date(rec.lastLoginAt).toISOString()}. Next login allowed at ${retryAt.toISOString()} (in ${formatMs(retryAt.getTime() - now)}).`,
            {
              provider: this.profile.provider,
              profile: this.profile.name,
              retryAt,
              hint: "Wait until then, or import a token pair created in the Central UI (`hpauth login --import`).",
            },
          );
        }
        await this.#store.set(key, { v: 1, provider: this.profile.provider, lastLoginAt: claimedAt, updatedAt: now });
        return rec;
      },
      this.#lockOptions(),
    );
    return async () => {
      await this.#store.withLock(
        key,
        async () => {
          const rec = await this.#store.get(key);
          if (rec?.lastLoginAt !== claimedAt) return;
          if (previous) await this.#store.set(key, previous);
          else await this.#store.delete(key);
          this.#emit({
            type: "login_budget_released",
            message: "login refused before any token was created; budget not spent",
          });
        },
        this.#lockOptions(),
      );
    };
  }

  // ---- persistence ----------------------------------------------------------------------------------------

  async #persist(
    set: TokenSet,
    source: "login" | "refresh",
    prev: TokenRecord | undefined,
    extra: Record<string, unknown> = {},
  ): Promise<TokenRecord> {
    const now = this.#rt.now();
    this.#remember(set.accessToken, set.refreshToken);
    const max = this.#def.maxLifetimeSeconds ?? Number.POSITIVE_INFINITY;
    const jwtExp = jwtExpiry(set.accessToken);
    let lifetimeMs = Math.min(set.expiresIn ?? this.#def.defaultLifetimeSeconds, max) * 1000;
    if (set.expiresIn === undefined && jwtExp !== undefined) lifetimeMs = Math.min(jwtExp - now, max * 1000);
    let expiresAt = now + lifetimeMs;
    // Never past the token's own exp, whatever expires_in claimed.
    if (jwtExp !== undefined) expiresAt = Math.min(expiresAt, jwtExp);
    // expires_in / exp of 1e20 or -1e20: bounded to what a Date (and RFC 3339) can hold.
    expiresAt = clampTimeMs(expiresAt);
    const supports = this.#def.supportsRefresh(this.profile);
    const refreshToken = supports
      ? (set.refreshToken ?? (source === "refresh" ? prev?.refreshToken : undefined))
      : undefined;
    const rotated = refreshToken !== undefined && refreshToken !== prev?.refreshToken;
    const record: TokenRecord = {
      v: 1,
      provider: this.profile.provider,
      profile: this.profile.name,
      accessToken: set.accessToken,
      tokenType: "Bearer",
      expiresAt,
      obtainedAt: now,
      updatedAt: now,
    };
    const scope = set.scope ?? (source === "refresh" ? prev?.scope : undefined);
    if (scope) record.scope = scope;
    if (refreshToken) {
      record.refreshToken = refreshToken;
      const issued = rotated || source === "login" ? now : prev?.refreshTokenIssuedAt;
      if (issued !== undefined) record.refreshTokenIssuedAt = issued;
    }
    const lastRefreshAt = source === "refresh" ? now : prev?.lastRefreshAt;
    if (lastRefreshAt !== undefined && refreshToken) record.lastRefreshAt = lastRefreshAt;
    const lastLoginAt = source === "login" && !extra.imported ? now : prev?.lastLoginAt;
    if (lastLoginAt !== undefined) record.lastLoginAt = lastLoginAt;
    const meta = {
      ...(set.meta ?? (source === "refresh" ? prev?.meta : undefined)),
      ...(extra.imported ? { imported: true } : {}),
    };
    if (Object.keys(meta).length > 0) record.meta = meta;
    try {
      // Should our lock have been lost (a stall past its stale window), the store still saves this record if the
      // stored one is what we started from: it is then the only copy of a possibly just-rotated refresh token.
      // It may also replace a record whose grant was declared dead meanwhile (no refresh token, nothing newer than
      // what we started from): ours is then the only live grant — typically the successor tried our already-used
      // refresh token after our lease ran out.
      await this.#store.set(this.key, record, {
        ifCurrent: (cur) =>
          (cur?.accessToken === prev?.accessToken && cur?.refreshToken === prev?.refreshToken) ||
          (!cur?.refreshToken && !!record.refreshToken && (cur?.obtainedAt ?? 0) <= (prev?.obtainedAt ?? 0)),
      });
    } catch (e) {
      // Refused because another holder wrote a newer token meanwhile (our lease ran out: a pause, a stall): serve
      // that one, never overwrite it.
      const newer = await this.#newerSaved(prev?.accessToken);
      if (newer) return newer;
      const until = rfc3339(expiresAt);
      throw new HpauthError(
        "STORE_ERROR",
        `Could not save the new token to the ${this.#store.kind} store: ${(e as Error).message}`,
        {
          provider: this.profile.provider,
          profile: this.profile.name,
          hint: rotated
            ? `Not saved: the rotated refresh token and the access token valid until ${until}. The stored refresh token was spent by this refresh, so the next run needs a new login.`
            : "Check the token store.",
          cause: e,
        },
      );
    }
    return record;
  }

  /**
   * After a write was refused: the token another holder saved meanwhile (our lease ran out: a pause, a stall), if it
   * is not `ours` and still good — served instead, never overwritten.
   */
  async #newerSaved(ours: string | undefined): Promise<TokenRecord | undefined> {
    const newer = await this.#store.get(this.key).catch(() => undefined);
    if (!newer?.accessToken || newer.accessToken === ours || !this.#fresh(newer, 0)) return undefined;
    this.#emit({
      type: "superseded",
      message: "another process saved a newer token while this one's lock had expired; serving that one",
    });
    return newer;
  }

  async #recordError(e: unknown, opts: { clearPending?: boolean } = {}): Promise<void> {
    const record = isHpauthError(e) && e.code !== "CANCELLED";
    if (!record && !opts.clearPending) return;
    try {
      const rec = (await this.#read()) ?? this.#emptyRecord();
      const now = this.#rt.now();
      const next: TokenRecord = { ...rec, updatedAt: now };
      if (record) next.lastError = { code: e.code, message: this.#redact(e.message), at: now };
      if (opts.clearPending) delete next.refreshPendingSince;
      await this.#store.set(this.key, next);
    } catch {
      // Status bookkeeping must never hide the real error.
    }
  }

  #emptyRecord(): TokenRecord {
    return { v: 1, provider: this.profile.provider, profile: this.profile.name, updatedAt: this.#rt.now() };
  }

  async #read(): Promise<TokenRecord | undefined> {
    try {
      return await this.#store.get(this.key);
    } catch (e) {
      if (isHpauthError(e)) throw e;
      throw new HpauthError(
        "STORE_ERROR",
        `Could not read the ${this.#store.kind} token store: ${(e as Error).message}`,
        {
          provider: this.profile.provider,
          profile: this.profile.name,
          cause: e,
        },
      );
    }
  }

  // ---- helpers --------------------------------------------------------------------------------------------

  #lockOptions(signal?: AbortSignal) {
    return {
      ...(this.#lockTimeoutMs !== undefined ? { timeoutMs: this.#lockTimeoutMs } : {}),
      ...(signal ? { signal } : {}),
    };
  }

  async #locked<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    let acquired = false;
    const started = Date.now();
    const notice = setTimeout(() => {
      if (!acquired)
        this.#emit({
          type: "lock_wait",
          message: "waiting for another caller or process holding this credential's lock",
        });
    }, LOCK_WAIT_NOTICE_MS);
    notice.unref?.();
    try {
      return await this.#store.withLock(
        this.key,
        async () => {
          acquired = true;
          clearTimeout(notice);
          const waited = Date.now() - started;
          if (waited >= LOCK_WAIT_NOTICE_MS)
            this.#emit({ type: "lock_acquired", message: `lock acquired after ${formatMs(waited)}`, waitedMs: waited });
          return fn();
        },
        this.#lockOptions(signal),
      );
    } finally {
      clearTimeout(notice);
    }
  }

  /** refreshGrant's answer when nothing is to be sent; undefined when the refresh token is to be refreshed. */
  #refreshGrantNotNeeded(rec: TokenRecord | undefined, unlessLivesPast?: number): GrantRefresh | undefined {
    const p = this.profile;
    if (!rec?.refreshToken) {
      return {
        outcome: "no_refresh_token",
        reason: `no refresh token is stored for profile "${p.name}" (run \`hpauth token -p ${p.name}\` or \`hpauth login -p ${p.name}\` first)`,
      };
    }
    const dies = this.#refreshTokenDiesAt(rec);
    if (unlessLivesPast !== undefined && dies !== undefined && dies > unlessLivesPast) {
      return { outcome: "not_needed", refreshTokenExpiresAt: new Date(dies) };
    }
    return undefined;
  }

  /** When a record's refresh token stops working unless used before (TokenStatus.refreshTokenExpiresAt). */
  #refreshTokenDiesAt(rec: TokenRecord): number | undefined {
    if (!rec.refreshToken) return undefined;
    const own = jwtExpiry(rec.refreshToken);
    const idle = this.#def.refreshTokenIdleSeconds;
    const lastUse = Math.max(rec.refreshTokenIssuedAt ?? 0, rec.lastRefreshAt ?? 0, rec.lastLoginAt ?? 0);
    const byIdle = idle !== undefined && lastUse > 0 ? lastUse + idle * 1000 : undefined;
    if (own === undefined) return byIdle;
    return byIdle === undefined ? own : Math.min(own, byIdle);
  }

  #marginFor(lifetimeMs: number): number {
    return refreshMargin(lifetimeMs, this.#marginMs, this.#jitter);
  }

  #fresh(rec: TokenRecord | undefined, minTtlMs: number): boolean {
    return isFresh(rec, this.#rt.now(), minTtlMs, this.#marginMs, this.#jitter);
  }

  #toAccessToken(rec: TokenRecord, source: AccessToken["source"]): AccessToken {
    return recordToken(rec, source, this.profile);
  }

  #flowContext(signal?: AbortSignal): FlowContext {
    const http: HttpContext = {
      runtime: this.#rt,
      retry: this.#retry,
      provider: this.profile.provider,
      profile: this.profile.name,
      secrets: () => this.#known,
      emit: (e) => this.#emit(e),
      urlField: (url) => this.#urlField(url),
      ...(this.network ? { route: (url: URL) => (this.network as Network).route(url) } : {}),
      ...(signal ? { signal } : {}),
    };
    const ctx: FlowContext = {
      profile: this.profile,
      http,
      clientSecret: () => this.#secret("clientSecret", signal),
      password: () => this.#secret("password", signal),
      ...(signal ? { signal } : {}),
    };
    const subject = this.#subject;
    if (subject) {
      ctx.subjectToken = async (rejected) => {
        const t = rejected
          ? await subject.renewRejected(rejected, signal ? { signal } : {})
          : await subject.getToken({ minTtlSeconds: 30, ...(signal ? { signal } : {}) });
        this.#remember(t.accessToken);
        return t.accessToken;
      };
    }
    if (this.#authorizer) ctx.authorizer = this.#authorizer;
    return ctx;
  }

  /** The config-file key a request URL comes from, for "connection refused — check base_url" messages. */
  #urlField(url: URL): string | undefined {
    const p = this.profile;
    const origin = (u: string | undefined) => {
      try {
        return u ? new URL(u).origin : undefined;
      } catch {
        return undefined;
      }
    };
    if (p.provider === "oauth2") {
      if (origin(p.tokenUrl) === url.origin) return "token_url";
      if (origin(p.issuer) === url.origin) return "issuer";
      if (origin(p.authorizationUrl) === url.origin) return "authorization_url";
      return undefined;
    }
    if (origin(p.baseUrl) !== url.origin) return undefined;
    const fromRegion = p.region !== undefined && this.#def.regions?.[p.region]?.baseUrl === p.baseUrl;
    return fromRegion ? `region (${p.region}: ${url.origin})` : "base_url";
  }

  #secret(field: SecretField, signal?: AbortSignal): Promise<string> {
    const ref = this.profile[field];
    if (!ref) {
      return Promise.reject(
        new HpauthError(
          "CONFIG_INVALID",
          `Profile "${this.profile.name}": ${field} is not configured (or ${field}Env / ${field}Command)`,
          {
            provider: this.profile.provider,
            profile: this.profile.name,
          },
        ),
      );
    }
    let p = this.#secrets.get(field);
    if (!p) {
      p = resolveSecret(ref, {
        env: this.#rt.env,
        profile: this.profile.name,
        ...(this.#secretTimeoutMs !== undefined ? { timeoutMs: this.#secretTimeoutMs } : {}),
        ...(signal ? { signal } : {}),
      }).then((v) => {
        this.#remember(v);
        return v;
      });
      // A failed lookup is retried next time (the user may fix the env var or unlock the password manager).
      p.catch(() => this.#secrets.delete(field));
      this.#secrets.set(field, p);
    }
    return p;
  }

  #remember(...values: Array<string | undefined>): void {
    for (const v of values) {
      if (!v || this.#known.includes(v)) continue;
      this.#known.push(v);
      if (this.#known.length > 16) this.#known.splice(2, 1); // keep the secrets (first in), drop old tokens
    }
  }

  #redact(text: string): string {
    return redact(text, this.#known);
  }

  #emit(e: EventInput): void {
    if (!this.#onEvent) return;
    const clean: EngineEvent = {
      profile: this.profile.name,
      provider: this.profile.provider,
      type: e.type,
      message: "",
    };
    for (const [k, v] of Object.entries(e))
      (clean as Record<string, unknown>)[k] = typeof v === "string" ? this.#redact(v) : v;
    try {
      this.#onEvent(clean);
    } catch {
      // A logger's failure is not the token's.
    }
  }

  #resolveUrl(input: string | URL): URL {
    const p = this.profile;
    const base = p.apiBaseUrl;
    const allowed = new Set([base, p.baseUrl].filter((b): b is string => !!b).map((b) => new URL(b).origin));
    if (input instanceof URL || /^[a-z][a-z0-9+.-]*:/i.test(input)) {
      const url = new URL(input);
      // The Bearer token goes only where the profile says the API is.
      if (!allowed.has(url.origin)) {
        throw new HpauthError(
          "USAGE",
          `Refusing to send the ${p.name} token to ${url.origin}: not the profile's API origin`,
          {
            provider: p.provider,
            profile: p.name,
            hint: "Use a path relative to the API base, or set apiBaseUrl.",
          },
        );
      }
      return url;
    }
    if (!base) {
      throw new HpauthError("USAGE", `Profile "${p.name}" has no API base URL to resolve "${input}" against`, {
        provider: p.provider,
        profile: p.name,
        hint: "Set apiBaseUrl (or region) in the profile, or pass an absolute URL.",
      });
    }
    // Documented paths are appended to the base unchanged (bases may carry a path, e.g. Identity's /apigwext).
    return new URL(`${base.replace(/\/+$/, "")}${input.startsWith("/") ? "" : "/"}${input}`);
  }

  #withAuth(init: RequestInit, accessToken: string): RequestInit {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${accessToken}`);
    return { ...init, headers };
  }
}

function replayable(body: RequestInit["body"]): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === "string" ||
    body instanceof URLSearchParams ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof Blob ||
    body instanceof FormData
  );
}

export function createTokenManager(options: TokenManagerOptions): TokenManager {
  return new TokenManager(options);
}
