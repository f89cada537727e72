/**
 * Redaction for anything a server or a secret source sends back that might reach an error message, an event or a
 * log line. Two layers: the exact values we know are secret (client secret, password, the tokens we hold), and
 * shapes that look like credentials whatever their value (JWTs, Bearer/Basic headers, `access_token=…`, JSON
 * token fields, cookies). HPE Identity's 401 body echoes the whole access token, so server bodies go through here.
 */

const MASK = "[redacted]";

/** Shorter values are not masked by value: masking "a" or "1" would shred the message and protect nothing. */
const MIN_SECRET_LENGTH = 4;

const PATTERNS: Array<[RegExp, string | ((...m: string[]) => string)]> = [
  // JWT / JWS / JWE compact serialisations (header always starts with base64url of `{"`).
  [/eyJ[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*){1,4}/g, MASK],
  // Authorization header values.
  [/\b(Bearer|Basic|Negotiate|DPoP)\s+[A-Za-z0-9._~+/=-]{6,}/gi, (_m, scheme) => `${scheme} ${MASK}`],
  // JSON fields that carry credentials: "access_token": "…", "refresh_token":"…", "client_secret": …
  [
    /("(?:access_token|refresh_token|id_token|accessToken|refreshToken|client_secret|clientSecret|password|auth_code|code|code_verifier|csrftoken|session|token|assertion)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi,
    (_m, key) => `${key}"${MASK}"`,
  ],
  // Query-string / form fields.
  [
    /\b(access_token|refresh_token|id_token|client_secret|password|code|code_verifier|auth_code|csrftoken|session|token|assertion)=[^&\s"';]+/gi,
    (_m, key) => `${key}=${MASK}`,
  ],
  // Cookie and Set-Cookie headers: keep the names, drop every value.
  [/\b((?:set-)?cookie\s*:\s*)([^\r\n]*)/gi, (_m, head, rest) => `${head}${rest.replace(/=([^;,\s]*)/g, `=${MASK}`)}`],
  // CSRF header values.
  [/\b(x-csrf-token\s*:\s*)\S+/gi, (_m, head) => `${head}${MASK}`],
];

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Removes known secret values and anything shaped like a credential from `text`. */
export function redact(text: string, knownSecrets: Iterable<string | undefined> = []): string {
  let out = text;
  const secrets = [...new Set([...knownSecrets].filter((s): s is string => !!s && s.length >= MIN_SECRET_LENGTH))];
  // Longest first, so a secret that contains another is masked whole.
  secrets.sort((a, b) => b.length - a.length);
  for (const s of secrets) {
    out = out.replace(new RegExp(escapeRegExp(s), "g"), MASK);
    // The same value form-encoded or base64-encoded (Basic headers) is just as secret.
    const encoded = encodeURIComponent(s);
    if (encoded !== s) out = out.replace(new RegExp(escapeRegExp(encoded), "g"), MASK);
  }
  for (const [re, replacement] of PATTERNS) {
    out = out.replace(re, replacement as (substring: string, ...args: string[]) => string);
  }
  return out;
}

/** A short, redacted excerpt of a server body for an error message: first line-ish, bounded. */
export function bodyExcerpt(body: string, knownSecrets: Iterable<string | undefined> = [], max = 300): string {
  const oneLine = body.replace(/\s+/g, " ").trim();
  const cleaned = redact(oneLine, knownSecrets);
  return cleaned.length > max ? `${cleaned.slice(0, max)}…` : cleaned;
}
