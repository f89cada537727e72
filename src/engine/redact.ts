/**
 * Redaction for anything a server or a secret source sends back that might reach an error message, an event or a
 * log line. Two layers: the exact values we know are secret (client secret, password, the tokens we hold), and
 * shapes that look like credentials whatever their value (JWTs, Bearer/Basic headers, `access_token=…`, JSON
 * token fields, cookies, passwords in URLs). HPE Identity's 401 body echoes the whole access token, so server
 * bodies go through here.
 *
 * Values are redacted, never structure: a value ends where its syntax says (a quote, `&`, `;`, a closing bracket,
 * whitespace), so `(code=abc123)` becomes `(code=[redacted])` with its `)` kept, and placeholders such as `"…"` in
 * a hint's example are not mistaken for secrets. Hand-written: no library redacts free text by credential shape.
 */

const MASK = "[redacted]";

/** Shorter values are not masked: masking "a", "1" or a `…` placeholder would shred the message and protect nothing. */
const MIN_SECRET_LENGTH = 4;

/** A placeholder in an example (`"…"`, `"..."`, `<token>`) or a value already masked: nothing to hide. */
function isPlaceholder(value: string): boolean {
  return value.length < MIN_SECRET_LENGTH || /^[.…]+$/.test(value) || value === MASK || /^<[^<>]*>$/.test(value);
}

/**
 * `code` is both OAuth's authorization code and, in messages and server bodies, an error code (`code=ECONNREFUSED`,
 * `"code": "NOT_AUTHORIZED"`). Error codes are upper-case words joined by `_`; an authorization code carries at
 * least 128 bits (RFC 6749 §10.10), which in upper-case letters alone takes 28 characters, so a shorter value of
 * that shape is an error code and is kept.
 */
function isErrorCode(key: string, value: string): boolean {
  return key.toLowerCase() === "code" && /^[A-Z][A-Z_]{1,26}$/.test(value);
}

const JSON_KEYS =
  "access_token|refresh_token|id_token|accessToken|refreshToken|client_secret|clientSecret|password|auth_code|code|code_verifier|csrftoken|session|token|assertion";
const FORM_KEYS =
  "access_token|refresh_token|id_token|client_secret|password|code|code_verifier|auth_code|csrftoken|session|token|assertion";

/** Where a form/query value ends: the next field, whitespace, a quote, or a bracket that closes around it. */
const FORM_VALUE = "[^&\\s\"'`;,()[\\]{}<>]+";

const keepOr = (key: string, value: string, masked: string, whole: string) =>
  isPlaceholder(value) || isErrorCode(key, value) ? whole : masked;

const PATTERNS: Array<[RegExp, (...m: string[]) => string]> = [
  // JWT / JWS / JWE compact serialisations (header always starts with base64url of `{"`).
  [/eyJ[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*){1,4}/g, () => MASK],
  // Authorization header values.
  [/\b(Bearer|Basic|Negotiate|DPoP)\s+[A-Za-z0-9._~+/=-]{6,}/gi, (_m, scheme) => `${scheme} ${MASK}`],
  // JSON fields that carry credentials: "access_token": "…", "refresh_token":"…", "client_secret": …
  [
    new RegExp(`("(${JSON_KEYS})"\\s*:\\s*)"((?:[^"\\\\]|\\\\.)*)"`, "gi"),
    (whole, head, key, value) => keepOr(key!, value!, `${head}"${MASK}"`, whole!),
  ],
  // The same JSON inside a JSON string (a body quoted in a log line): \"access_token\":\"…\"
  [
    new RegExp(`(\\\\"(${JSON_KEYS})\\\\"\\s*:\\s*)\\\\"((?:[^"\\\\]|\\\\[^"])*)\\\\"`, "gi"),
    (whole, head, key, value) => keepOr(key!, value!, `${head}\\"${MASK}\\"`, whole!),
  ],
  // Query-string / form fields.
  [
    new RegExp(`\\b(${FORM_KEYS})=(${FORM_VALUE})`, "gi"),
    (whole, key, value) => keepOr(key!, value!, `${key}=${MASK}`, whole!),
  ],
  // A password in a URL's userinfo: https://user:pass@host
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:)[^\s/@]+@/gi, (_m, head) => `${head}${MASK}@`],
  // Cookie and Set-Cookie headers: keep the names, drop every value.
  [
    /\b((?:set-)?cookie\s*:\s*)([^\r\n]*)/gi,
    (_m, head, rest) =>
      `${head}${rest!.replace(/=([^;,\s"'()[\]{}<>]+)/g, (w, v) => (isPlaceholder(v) ? w : `=${MASK}`))}`,
  ],
  // CSRF header values.
  [/\b(x-csrf-token\s*:\s*)[^\s"'()[\]{}<>,;]+/gi, (_m, head) => `${head}${MASK}`],
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
    // The same value form-encoded or JSON-escaped is just as secret.
    for (const encoded of [encodeURIComponent(s), JSON.stringify(s).slice(1, -1)]) {
      if (encoded !== s) out = out.replace(new RegExp(escapeRegExp(encoded), "g"), MASK);
    }
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
