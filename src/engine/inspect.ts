/**
 * Read-only views of what a token or a response claims, for `hpauth inspect` and library users. Nothing here
 * verifies a signature: it shows what a token says, it does not vouch for it.
 */
import { gunzipSync } from "node:zlib";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { isTimeMs } from "./dates.js";

export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** From the `exp` claim, if any and if it is an instant between 1970 and 9999. */
  expiresAt?: Date;
  issuedAt?: Date;
}

/** Decodes a compact JWS's header and claims, or undefined when the value is not a JWT (opaque tokens are normal). */
export function decodeJwtToken(token: string): DecodedJwt | undefined {
  if (token.split(".").length !== 3) return undefined;
  try {
    const header = decodeProtectedHeader(token) as Record<string, unknown>;
    const claims = decodeJwt(token) as Record<string, unknown>;
    const out: DecodedJwt = { header, claims };
    // A claim no Date can hold (`exp: 1e20`) stays in `claims` as the token says it, without a Date.
    if (isTimeMs(secondsToMs(claims.exp))) out.expiresAt = new Date((claims.exp as number) * 1000);
    if (isTimeMs(secondsToMs(claims.iat))) out.issuedAt = new Date((claims.iat as number) * 1000);
    return out;
  } catch {
    return undefined;
  }
}

function secondsToMs(v: unknown): number | undefined {
  return typeof v === "number" ? v * 1000 : undefined;
}

// The engine's own `exp` reader, jose-free so the token path need not load jose; re-exported for library users.
export { jwtExpiry } from "./jwt.js";

/**
 * HPE Identity's `zip_authorities`: base64 of gzip (starts `H4sI`). Returns the parsed JSON when the content is
 * JSON, else the text; throws a TypeError when the value is not base64 gzip.
 */
export function decodeZipAuthorities(value: string): unknown {
  let text: string;
  try {
    text = gunzipSync(Buffer.from(value, "base64")).toString("utf8");
  } catch (e) {
    throw new TypeError("zip_authorities is not base64-encoded gzip", { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export interface EntitlementContract {
  /** The Entitlement Engine's "Contract Status"; any field name spelling is accepted (see below). */
  [field: string]: unknown;
}

export type FlaggedContract<T extends EntitlementContract> = T & {
  /** False for G-blocked contracts: active, but Global Trade Services blocks delivery against them. */
  deliverable: boolean;
  gBlocked: boolean;
};

const STATUS_KEYS = ["Contract Status", "contractStatus", "contract_status", "ContractStatus", "status"];
const SUPPORT_LEVEL_KEYS = ["Highest Support Level", "highestSupportLevel", "highest_support_level", "hsl"];

function contractStatus(c: EntitlementContract): string | undefined {
  for (const k of STATUS_KEYS) {
    const v = c[k];
    if (typeof v === "string") return v;
    if (Array.isArray(v)) return v.join(",");
  }
  return undefined;
}

/** True when a Contract Status value carries the flag `G` (as a whole token: "G", "Active,G", "A G"). */
export function isGBlockedStatus(status: string): boolean {
  return status
    .split(/[\s,;|/]+/)
    .map((s) => s.trim())
    .some((s) => s === "G");
}

/**
 * Marks contracts whose Contract Status carries `G` as not deliverable and strips any Highest Support Level from
 * them: the Entitlement Engine suppresses those, and a client must never present one as deliverable.
 */
export function flagGBlockedContracts<T extends EntitlementContract>(contracts: readonly T[]): FlaggedContract<T>[] {
  return contracts.map((c) => {
    const status = contractStatus(c);
    const gBlocked = status !== undefined && isGBlockedStatus(status);
    const copy: Record<string, unknown> = { ...c };
    if (gBlocked) for (const k of SUPPORT_LEVEL_KEYS) delete copy[k];
    return { ...(copy as T), gBlocked, deliverable: !gBlocked };
  });
}
