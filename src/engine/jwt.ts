/**
 * The one JWT claim the engine itself reads: `exp`, to cap a token's lifetime. Hand-rolled (a base64url decode and a
 * JSON.parse) rather than jose, because the engine is on every `hpauth token` start-up path and jose costs several
 * ms to load; `hpauth inspect` (src/engine/inspect.ts) keeps jose for the full header and claims. Nothing here
 * verifies a signature.
 */

// RFC 7515 leaves the padding out, but jose's decoder (atob, or Uint8Array.fromBase64 where it exists) takes it: so
// does this one, or a padded token's exp would cap its lifetime in `hpauth inspect` and not in the engine.
const B64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/** A compact-JWS segment as a JSON object, or undefined (the same inputs jose's decoders refuse). */
function segment(part: string | undefined): Record<string, unknown> | undefined {
  if (!part || !B64URL.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Epoch ms of a JWT's `exp`, or undefined when the value is no JWT (opaque tokens are normal) or has no `exp`. */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || !segment(parts[0])) return undefined;
  const exp = segment(parts[1])?.exp;
  // `exp: -1e308` is finite, its milliseconds are not.
  return typeof exp === "number" && Number.isFinite(exp * 1000) ? exp * 1000 : undefined;
}
