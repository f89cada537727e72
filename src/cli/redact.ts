/**
 * Last line of defence for text the CLI prints from errors it did not build itself: anything that looks like a
 * token (JWTs, long opaque strings, Bearer/Basic values, secret-named parameters) is masked. The engine redacts
 * at the source; this catches what a third-party error message might echo.
 */
const PATTERNS: [RegExp, string][] = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, "$1 [redacted]"],
  [/\beyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}/g, "[redacted-jwt]"],
  [
    /\b(access_token|refresh_token|id_token|client_secret|password|code|auth_code|csrftoken|session|token)(["']?\s*[:=]\s*["']?)[^\s"'&,;}]+/gi,
    "$1$2[redacted]",
  ],
  [/\b[A-Za-z0-9_-]{32,}\b/g, "[redacted]"],
];

export function redactText(text: string): string {
  let out = text;
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
}
