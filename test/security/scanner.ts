/**
 * The secret scanner behind test/security/no-secrets.test.ts: a set of known secret values (learned from the
 * emulator's credentials, the token store files and the wire itself), and a scan of captured text for them — whole,
 * encoded, or as fragments — plus credential shapes whose values we never learned (JWTs, Bearer values, cookies).
 * Hits are reported by fingerprint (first 4 chars + length), never by value: the report is a log too.
 */

export type SecretKind =
  | "client secret"
  | "password"
  | "access token"
  | "refresh token"
  | "auth code"
  | "session cookie"
  | "csrf token"
  | "basic credentials"
  | "bearer value"
  | "wire secret";

/** Captured text and where it came from. `allow`: exact values this transcript may hold (a `token` stdout). */
export interface Transcript {
  source: string;
  text: string;
  allow?: string[];
  /** Kinds allowed anywhere in this transcript (a token store file holds access and refresh tokens). */
  allowKinds?: SecretKind[];
}

export interface Hit {
  source: string;
  kind: string;
  fingerprint: string;
  how: "exact" | "encoded" | "fragment" | "shape";
  offset: number;
  count: number;
  /** Surrounding text with the hit and anything token-like masked: enough to find the line, nothing to use. */
  context: string;
}

/** Values shorter than this are not tracked: "Read", "bearer", a 4-digit port would match everywhere. */
const MIN_SECRET_LENGTH = 8;
/** A leak of this many consecutive characters of a secret counts (truncated excerpts, split lines). */
const FRAGMENT = 20;
const SENTINEL = "\u0000ALLOWED\u0000";

export function fingerprint(value: string): string {
  return `${value.slice(0, 4)}…(${value.length} chars)`;
}

interface Entry {
  kind: SecretKind;
  value: string;
}

export class SecretSet {
  readonly #entries = new Map<string, Entry>();

  add(kind: SecretKind, value: unknown): void {
    if (typeof value !== "string") return;
    const v = value.trim();
    if (v.length < MIN_SECRET_LENGTH || v === "[redacted]" || this.#entries.has(v)) return;
    this.#entries.set(v, { kind, value: v });
  }

  has(value: string): boolean {
    return this.#entries.has(value);
  }

  kindOf(value: string): SecretKind | undefined {
    return this.#entries.get(value)?.kind;
  }

  values(kind?: SecretKind): string[] {
    return [...this.#entries.values()].filter((e) => !kind || e.kind === kind).map((e) => e.value);
  }

  get size(): number {
    return this.#entries.size;
  }

  entries(): Entry[] {
    return [...this.#entries.values()];
  }
}

/** Forms a secret takes on its way into text: form/URL-encoded, base64 (alone), JSON-escaped. */
function encodings(v: string): string[] {
  const out = new Set<string>();
  out.add(encodeURIComponent(v));
  out.add(new URLSearchParams({ x: v }).toString().slice(2));
  out.add(Buffer.from(v).toString("base64"));
  out.add(Buffer.from(v).toString("base64url"));
  out.add(JSON.stringify(v).slice(1, -1));
  out.delete(v);
  return [...out].filter((e) => e.length >= MIN_SECRET_LENGTH);
}

/**
 * The part of a secret whose fragments identify it. A JWT's header is the same for every token of an issuer, and
 * its payload shares long runs with other tokens' (same claims at the same offsets): only the signature is unique.
 * A JWT cut short before its signature is caught by the "JWT without signature" shape instead.
 */
function fragmentSource(v: string): string {
  if (/^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(v)) return v.slice(v.lastIndexOf(".") + 1);
  return v;
}

const SHAPES: Array<{ kind: string; re: RegExp; group: number }> = [
  { kind: "JWT-shaped string", re: /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)?/g, group: 0 },
  { kind: "Bearer value", re: /\bBearer\s+([A-Za-z0-9._~+/=-]{16,})/gi, group: 1 },
  { kind: "Basic credentials", re: /\bBasic\s+([A-Za-z0-9+/=]{12,})/g, group: 1 },
  { kind: "cookie value", re: /\b(?:session|csrftoken)=([^;\s"'&,\\[\]]{8,})/gi, group: 1 },
  { kind: "X-CSRF-Token value", re: /\bx-csrf-token["']?\s*[:=]\s*["']?([A-Za-z0-9._~+/=-]{8,})/gi, group: 1 },
  {
    kind: "credential field",
    re: /\b(?:access_token|refresh_token|id_token|client_secret|clientSecret|password|auth_code|accessToken|refreshToken)["']?\s*[:=]\s*["']?([A-Za-z0-9._~+/=%-]{12,})/g,
    group: 1,
  },
];

/**
 * A field name, not a value: `password: passwordCommand for profile "wxp" failed`. Random secrets are not camelCase
 * or snake_case words; known secrets are matched by value anyway.
 */
function isFieldName(value: string): boolean {
  return /^[a-z]+(?:[A-Z][a-z]+)+$/.test(value) || /^[a-z]+(?:_[a-z]+)+$/.test(value);
}

/** Masks anything token-like so a context excerpt can be printed. */
function maskContext(s: string): string {
  return s.replace(/[A-Za-z0-9._~+/=%-]{12,}/g, "<…>").replace(/\u0000ALLOWED\u0000/g, "<allowed>");
}

function contextAt(text: string, offset: number, length: number, label: string): string {
  const before = text.slice(Math.max(0, offset - 60), offset);
  const after = text.slice(offset + length, offset + length + 60);
  return `${maskContext(before)}<<${label}>>${maskContext(after)}`.replace(/\s+/g, " ");
}

/** Scans one transcript. */
export function scanTranscript(t: Transcript, secrets: SecretSet): Hit[] {
  let text = t.text;
  for (const a of t.allow ?? []) if (a) text = text.split(a).join(SENTINEL);
  const allowedKinds = new Set(t.allowKinds ?? []);
  const hits = new Map<string, Hit>();
  const record = (kind: string, value: string, how: Hit["how"], offset: number, length: number) => {
    const id = `${kind}|${value}`;
    const prev = hits.get(id);
    if (prev) {
      prev.count++;
      return;
    }
    const fp = fingerprint(value);
    hits.set(id, {
      source: t.source,
      kind,
      fingerprint: fp,
      how,
      offset,
      count: 1,
      context: contextAt(text, offset, length, `${kind} ${fp}`),
    });
  };

  // Whole values and their encodings.
  const entries = secrets.entries().filter((e) => !allowedKinds.has(e.kind));
  for (const e of entries) {
    for (const [form, how] of [
      [e.value, "exact"] as const,
      ...encodings(e.value).map((x) => [x, "encoded"] as const),
    ]) {
      const i = text.indexOf(form);
      if (i >= 0) record(e.kind, e.value, how, i, form.length);
    }
  }
  // Fragments: every FRAGMENT-long window of every long secret, looked up while sliding over the text.
  const windows = new Map<string, Entry>();
  for (const e of entries) {
    // A Basic value is base64 of `id:secret`; its id part also sits in JWT payloads. The secret inside it is
    // tracked on its own (with its base64 forms), so the Basic value is matched whole only.
    if (e.kind === "basic credentials") continue;
    const src = fragmentSource(e.value);
    if (src.length < FRAGMENT) continue;
    for (let i = 0; i + FRAGMENT <= src.length; i++) {
      const w = src.slice(i, i + FRAGMENT);
      if (!windows.has(w)) windows.set(w, e);
    }
  }
  if (windows.size > 0) {
    for (let i = 0; i + FRAGMENT <= text.length; i++) {
      const e = windows.get(text.slice(i, i + FRAGMENT));
      if (e && !hits.has(`${e.kind}|${e.value}`)) record(e.kind, e.value, "fragment", i, FRAGMENT);
    }
  }
  // Shapes: credentials we never learned the value of.
  for (const s of SHAPES) {
    for (const m of text.matchAll(s.re)) {
      const value = m[s.group] ?? "";
      if (!value || value.includes(SENTINEL) || /^\[?redacted/i.test(value) || isFieldName(value)) continue;
      const known = secrets.kindOf(value);
      if (known && allowedKinds.has(known)) continue;
      if (allowedKinds.size > 0 && s.kind === "JWT-shaped string") continue; // store files hold JWTs by design
      if (allowedKinds.has("access token") && s.kind === "credential field") continue;
      // Already reported by value: one line per leak is enough.
      if ([...hits.values()].some((h) => h.offset <= (m.index ?? 0) + m[0].length && h.offset >= (m.index ?? 0)))
        continue;
      record(s.kind, value, "shape", m.index ?? 0, m[0].length);
    }
  }
  return [...hits.values()];
}

export function scanAll(transcripts: Transcript[], secrets: SecretSet): Hit[] {
  return transcripts.flatMap((t) => scanTranscript(t, secrets));
}

export function formatHits(hits: Hit[]): string {
  return hits
    .map(
      (h) =>
        `- ${h.source}: ${h.kind} ${h.fingerprint} (${h.how}${h.count > 1 ? `, ${h.count}×` : ""}) at offset ${h.offset}\n    …${h.context}…`,
    )
    .join("\n");
}

// ---- learning secrets from the wire ---------------------------------------------------------------------------

/** Parameter names whose values are secret in a request (query, form or JSON body). */
const REQUEST_FIELDS: Record<string, SecretKind> = {
  client_secret: "client secret",
  password: "password",
  refresh_token: "refresh token",
  code: "auth code",
  auth_code: "auth code",
  code_verifier: "wire secret",
  access_token: "access token",
  assertion: "wire secret",
};
/** Field names whose values are secret in a response body. */
const RESPONSE_FIELDS: Record<string, SecretKind> = {
  access_token: "access token",
  refresh_token: "refresh token",
  id_token: "access token",
  auth_code: "auth code",
  code: "auth code",
};

export interface WireSecret {
  kind: SecretKind;
  value: string;
}

function fromParams(params: URLSearchParams, fields: Record<string, SecretKind>, out: WireSecret[]): void {
  for (const [k, v] of params) {
    const kind = fields[k];
    if (kind) out.push({ kind, value: v });
  }
}

function fromJson(value: unknown, fields: Record<string, SecretKind>, out: WireSecret[], depth = 0): void {
  if (depth > 4 || !value || typeof value !== "object") return;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const kind = fields[k];
    if (kind && typeof v === "string") out.push({ kind, value: v });
    else if (v && typeof v === "object") fromJson(v, fields, out, depth + 1);
  }
}

function fromBodyText(text: string, fields: Record<string, SecretKind>, out: WireSecret[]): void {
  const trimmed = text.trim();
  if (!trimmed) return;
  if (trimmed.startsWith("{")) {
    try {
      fromJson(JSON.parse(trimmed), fields, out);
      return;
    } catch {
      // Truncated or malformed: salvage what is there.
      for (const m of trimmed.matchAll(/"(\w+)"\s*:\s*"([^"\\]{8,})/g)) {
        const kind = fields[m[1] ?? ""];
        if (kind) out.push({ kind, value: m[2] ?? "" });
      }
      return;
    }
  }
  if (/^[\w.%+-]+=/.test(trimmed)) fromParams(new URLSearchParams(trimmed), fields, out);
}

function fromHeaders(headers: Headers, out: WireSecret[]): void {
  const auth = headers.get("authorization");
  if (auth) {
    const [scheme = "", value = ""] = auth.split(/\s+/, 2);
    if (/^basic$/i.test(scheme)) {
      out.push({ kind: "basic credentials", value });
      const decoded = Buffer.from(value, "base64").toString("utf8");
      const i = decoded.indexOf(":");
      if (i >= 0) out.push({ kind: "client secret", value: decodeURIComponent(decoded.slice(i + 1)) });
    } else if (/^bearer$/i.test(scheme)) out.push({ kind: "access token", value });
  }
  const cookie = headers.get("cookie");
  if (cookie) {
    for (const pair of cookie.split(/;\s*/)) {
      const i = pair.indexOf("=");
      if (i > 0) out.push({ kind: "session cookie", value: pair.slice(i + 1) });
    }
  }
  const csrf = headers.get("x-csrf-token");
  if (csrf) out.push({ kind: "csrf token", value: csrf });
}

/** Secrets a request carries: query, body, Authorization, Cookie, X-CSRF-Token. */
export function secretsInRequest(url: string, headers: Headers, body: string | undefined): WireSecret[] {
  const out: WireSecret[] = [];
  try {
    fromParams(new URL(url).searchParams, REQUEST_FIELDS, out);
  } catch {
    /* not a URL */
  }
  if (body) fromBodyText(body, REQUEST_FIELDS, out);
  fromHeaders(headers, out);
  return out;
}

/** Secrets a response carries: Set-Cookie values (Aruba session, csrftoken), tokens and codes in the body. */
export function secretsInResponse(headers: Headers, body: string): WireSecret[] {
  const out: WireSecret[] = [];
  for (const c of headers.getSetCookie()) {
    const [pair = ""] = c.split(";");
    const i = pair.indexOf("=");
    if (i > 0) {
      const name = pair.slice(0, i).trim();
      out.push({ kind: /csrf/i.test(name) ? "csrf token" : "session cookie", value: pair.slice(i + 1) });
    }
  }
  const location = headers.get("location");
  if (location) {
    try {
      fromParams(new URL(location, "http://x.invalid").searchParams, { code: "auth code" }, out);
    } catch {
      /* not a URL */
    }
  }
  fromBodyText(body, RESPONSE_FIELDS, out);
  return out;
}

/** Text of a fetch body as given to fetch (strings, URLSearchParams, bytes); undefined for streams. */
export function bodyText(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return body;
  if (body instanceof URLSearchParams) return body.toString();
  if (body instanceof Uint8Array) return Buffer.from(body).toString("utf8");
  if (body instanceof ArrayBuffer) return Buffer.from(body).toString("utf8");
  return undefined;
}

/**
 * Wraps a fetch so every secret that crosses the wire is learned. Reads a clone of each response; a response whose
 * body dies halfway (an injected `truncated` fault) still yields what arrived.
 */
export function recordingFetch(
  learn: (s: WireSecret) => void,
  base: typeof globalThis.fetch = globalThis.fetch,
): typeof globalThis.fetch {
  return async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    for (const s of secretsInRequest(url, headers, bodyText(init?.body))) learn(s);
    const res = await base(input, init);
    let text = "";
    try {
      text = await res.clone().text();
    } catch {
      /* a dropped or truncated body: nothing more to learn */
    }
    for (const s of secretsInResponse(res.headers, text)) learn(s);
    return res;
  };
}
