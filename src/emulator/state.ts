/**
 * Everything the emulated services remember: the clock, grants and their tokens, codes, sessions, faults, counters.
 * One instance per emulator, shared by the five origins and the admin API. All mutations are synchronous, so a
 * check-then-rotate (refresh tokens, single-use codes) cannot interleave with a concurrent request.
 */
import { randomBytes, randomUUID } from "node:crypto";
import {
  type Counters,
  EMULATED_PROVIDERS,
  type EmulatedProvider,
  type FaultEndpoint,
  type FaultSpec,
  type ProviderCounters,
} from "./types.js";

export interface Grant {
  id: string;
  provider: EmulatedProvider;
  clientId: string;
  subject: string;
  scope: string;
  createdAt: number;
  revoked: boolean;
}

export interface AccessRecord {
  grantId: string;
  provider: EmulatedProvider;
  issuedAt: number;
  expiresAt: number;
  /** Invalidated on its own (techpulse: superseded by a newer token) while its grant lives on. */
  superseded?: boolean;
}

export interface RefreshRecord {
  grantId: string;
  provider: EmulatedProvider;
  clientId: string;
  expiresAt: number;
  /** Already exchanged: presenting it again is a replay (RFC 9700 §4.14.2). */
  used: boolean;
}

export interface CodeRecord {
  provider: EmulatedProvider;
  clientId: string;
  subject: string;
  scope: string;
  expiresAt: number;
  redirectUri?: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  /** aruba-central: the customer the code was issued for. */
  customerId?: string;
}

export interface Fault extends Required<Pick<FaultSpec, "provider" | "endpoint" | "type">> {
  status?: number;
  retryAfter?: number;
  delayMs?: number;
  remaining: number;
}

export type AccessCheck =
  | { ok: true; grant: Grant; record: AccessRecord }
  | { ok: false; reason: "unknown" | "expired" | "revoked"; record?: AccessRecord };

export type RefreshCheck =
  | { ok: true; grant: Grant; record: RefreshRecord }
  | { ok: false; reason: "unknown" | "expired" | "revoked" | "reused" | "wrong_client" };

const newCounters = (): ProviderCounters => ({
  logins: 0,
  codes: 0,
  tokensIssued: 0,
  refreshes: 0,
  tokenRequests: 0,
  apiCalls: 0,
  refusals: {},
});

/** Opaque token text: `length` characters of [A-Za-z0-9], like the services' own (no `-`/`_`, nothing to escape). */
export function opaque(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  let out = "";
  while (out.length < length) {
    // 248 = 4 × 62: rejection sampling keeps the alphabet uniform.
    for (const b of randomBytes(length * 2)) if (b < 248 && out.length < length) out += alphabet[b % 62];
  }
  return out;
}

export const hex = (bytes: number) => randomBytes(bytes).toString("hex");
export const uuid = () => randomUUID();

export class EmulatorState {
  offsetMs = 0;
  grants = new Map<string, Grant>();
  access = new Map<string, AccessRecord>();
  refresh = new Map<string, RefreshRecord>();
  codes = new Map<string, CodeRecord>();
  faults: Fault[] = [];
  counters: Counters = this.freshCounters();
  /** Per-provider scratch space (sessions, interactions, rate budgets), dropped by reset(). */
  scratch = new Map<string, Map<string, unknown>>();

  constructor(private readonly baseNow: () => number) {}

  now(): number {
    return this.baseNow() + this.offsetMs;
  }

  private freshCounters(): Counters {
    return Object.fromEntries(EMULATED_PROVIDERS.map((p) => [p, newCounters()])) as Counters;
  }

  resetCounters(): void {
    this.counters = this.freshCounters();
  }

  reset(): void {
    this.offsetMs = 0;
    this.grants.clear();
    this.access.clear();
    this.refresh.clear();
    this.codes.clear();
    this.faults = [];
    this.scratch.clear();
    this.resetCounters();
  }

  /** A named map that lives until reset(). */
  bag<T>(name: string): Map<string, T> {
    let m = this.scratch.get(name);
    if (!m) {
      m = new Map();
      this.scratch.set(name, m);
    }
    return m as Map<string, T>;
  }

  count(provider: EmulatedProvider, key: Exclude<keyof ProviderCounters, "refusals">): void {
    this.counters[provider][key]++;
  }

  refuse(provider: EmulatedProvider, reason: string): void {
    const r = this.counters[provider].refusals;
    r[reason] = (r[reason] ?? 0) + 1;
  }

  newGrant(provider: EmulatedProvider, clientId: string, subject: string, scope: string): Grant {
    const grant: Grant = { id: uuid(), provider, clientId, subject, scope, createdAt: this.now(), revoked: false };
    this.grants.set(grant.id, grant);
    return grant;
  }

  addAccess(token: string, grant: Grant, lifetimeSeconds: number): AccessRecord {
    const now = this.now();
    const rec: AccessRecord = {
      grantId: grant.id,
      provider: grant.provider,
      issuedAt: now,
      expiresAt: now + lifetimeSeconds * 1000,
    };
    this.access.set(token, rec);
    return rec;
  }

  addRefresh(token: string, grant: Grant, lifetimeSeconds: number): void {
    this.refresh.set(token, {
      grantId: grant.id,
      provider: grant.provider,
      clientId: grant.clientId,
      expiresAt: this.now() + lifetimeSeconds * 1000,
      used: false,
    });
  }

  checkAccess(provider: EmulatedProvider, token: string | undefined): AccessCheck {
    const record = token === undefined ? undefined : this.access.get(token);
    // A token of another provider is as unknown here as a made-up one: each service only knows its own.
    if (!record || record.provider !== provider) return { ok: false, reason: "unknown" };
    const grant = this.grants.get(record.grantId);
    if (!grant || grant.revoked || record.superseded) return { ok: false, reason: "revoked", record };
    if (this.now() >= record.expiresAt) return { ok: false, reason: "expired", record };
    return { ok: true, grant, record };
  }

  /**
   * Consumes a refresh token: on success it is marked used (the caller issues the rotated pair at once). A replay
   * of a used one is refused, and with `revokeFamily` kills the whole grant.
   */
  useRefresh(provider: EmulatedProvider, token: string, clientId: string, revokeFamily: boolean): RefreshCheck {
    const record = this.refresh.get(token);
    if (!record || record.provider !== provider) return { ok: false, reason: "unknown" };
    if (record.clientId !== clientId) return { ok: false, reason: "wrong_client" };
    const grant = this.grants.get(record.grantId);
    if (!grant || grant.revoked) return { ok: false, reason: "revoked" };
    if (record.used) {
      if (revokeFamily) this.revokeGrant(grant.id);
      return { ok: false, reason: "reused" };
    }
    if (this.now() >= record.expiresAt) return { ok: false, reason: "expired" };
    record.used = true;
    return { ok: true, grant, record };
  }

  /** Invalidates every access token of a grant but the newest (techpulse's "previous token will be invalidated"). */
  supersedeAccess(grantId: string, keep: string): void {
    for (const [t, rec] of this.access) if (rec.grantId === grantId && t !== keep) rec.superseded = true;
  }

  revokeGrant(id: string): boolean {
    const g = this.grants.get(id);
    if (!g || g.revoked) return false;
    g.revoked = true;
    return true;
  }

  /** Revokes the grant a token (access or refresh) belongs to, or all of a provider's. Returns how many died. */
  revoke(provider: EmulatedProvider, token?: string): number | undefined {
    if (token !== undefined) {
      const rec = this.access.get(token) ?? this.refresh.get(token);
      if (!rec || rec.provider !== provider) return undefined;
      return this.revokeGrant(rec.grantId) ? 1 : 0;
    }
    let n = 0;
    for (const g of this.grants.values()) if (g.provider === provider && this.revokeGrant(g.id)) n++;
    return n;
  }

  /** Single-use: a code is deleted on its first presentation, valid or not (RFC 6749 §4.1.2). */
  takeCode(provider: EmulatedProvider, code: string): CodeRecord | "expired" | undefined {
    const rec = this.codes.get(code);
    if (!rec || rec.provider !== provider) return undefined;
    this.codes.delete(code);
    return this.now() >= rec.expiresAt ? "expired" : rec;
  }

  addFault(spec: FaultSpec): void {
    this.faults.push({
      provider: spec.provider,
      endpoint: spec.endpoint,
      type: spec.type,
      remaining: spec.count ?? 1,
      ...(spec.status !== undefined ? { status: spec.status } : {}),
      ...(spec.retryAfter !== undefined ? { retryAfter: spec.retryAfter } : {}),
      ...(spec.delayMs !== undefined ? { delayMs: spec.delayMs } : {}),
    });
  }

  /** The first fault matching this request, consumed by one. */
  takeFault(provider: EmulatedProvider, endpoints: readonly FaultEndpoint[]): Fault | undefined {
    const i = this.faults.findIndex(
      (f) => (f.provider === "*" || f.provider === provider) && (f.endpoint === "*" || endpoints.includes(f.endpoint)),
    );
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    if (--f.remaining <= 0) this.faults.splice(i, 1);
    return f;
  }
}
