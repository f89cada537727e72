/**
 * HTTP for identity endpoints: one request, bounded retries for what is transient (5xx, 429 and 503 with a short
 * Retry-After, timeouts, dropped connections, HTML or broken JSON where JSON was due), never for what is not
 * (4xx: configuration and credential errors). The body is read inside the retry loop, because a truncated body
 * or an HTML error page is as transient as a 503. The answer comes back buffered, so a `processXResponse`
 * (ours or oauth4webapi's) can read it again.
 *
 * A request that must not be sent twice (`SendOptions.once`: the refresh of a rotating refresh token, an
 * authorization code exchange) gets a much longer per-attempt timeout, is never cancelled once sent, and is
 * retried only when the failure proves the server did not act on it: the connection was never made (refused,
 * DNS, unreachable), or the server answered with an error status. When the outcome is unknown (timeout, connection
 * lost after sending, a 2xx whose body cannot be read) it fails with ANSWER_LOST instead: sending the same refresh
 * token again would present a token the server may already have rotated out (RFC 9700 §4.14.2 reuse detection).
 * docs/reliability.md spells out what is guaranteed.
 */

import { MAX_TIME_MS } from "./dates.js";
import { formatDuration, formatMs } from "./duration.js";
import { HpauthError, isHpauthError } from "./errors.js";
import { type Route, showProxy } from "./network.js";
import { bodyExcerpt } from "./redact.js";
import type { Runtime } from "./runtime.js";
import type { ProviderId } from "./types.js";

/** An event before the manager stamps it with profile and provider and redacts it. */
export interface EventInput {
  type: string;
  message: string;
  [field: string]: unknown;
}

export interface RetryPolicy {
  /** Total attempts including the first (default 3). */
  attempts: number;
  /** First backoff delay (default 250 ms); doubles each time, full jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * A 429's or 503's Retry-After up to this is waited out (RFC 9110 §10.2.3, either form); beyond it the caller
   * gets RATE_LIMITED (429) or SERVER_ERROR (503) with retryAt, at once.
   */
  maxRetryAfterSeconds: number;
  /** Per-attempt timeout of requests that may be repeated (default 15 s). */
  timeoutMs: number;
  /**
   * Per-attempt timeout of requests that must not be sent twice: refreshes (the refresh token may rotate) and
   * authorization code exchanges (Aruba step 3, TechPulse, oauth2). Default 120 s: giving up early may lose the
   * grant for good, waiting costs only time.
   */
  nonIdempotentTimeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 3,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
  maxRetryAfterSeconds: 10,
  timeoutMs: 15_000,
  nonIdempotentTimeoutMs: 120_000,
};

export interface HttpContext {
  runtime: Runtime;
  retry: RetryPolicy;
  provider: ProviderId;
  profile: string;
  /** Values to mask in anything echoed from a server (client secret, password, tokens in flight). */
  secrets: () => Iterable<string | undefined>;
  emit: (e: EventInput) => void;
  signal?: AbortSignal;
  /**
   * Once a request is sent, wait for its answer even if `signal` aborts (cancellation then takes effect between
   * attempts). For refreshes of rotating refresh tokens: an answer thrown away may be a rotation lost for good.
   */
  finishSentRequests?: boolean;
  /** The profile field a URL comes from, for messages ("base_url", "region", "token_url"). */
  urlField?: (url: URL) => string | undefined;
  /** Which way a request goes (direct, or the proxy and the setting it came from), for messages. */
  route?: (url: URL) => Route;
}

export interface SendOptions {
  /** What this request is, for messages and events ("token request", "Aruba login"). */
  what: string;
  /** JSON is due on 2xx (token endpoints): anything else is treated as a transient server fault. */
  expectJson: boolean;
  /** Statuses answered at once, not retried (Aruba's 429 on login means its 30-minute budget: waiting 10 s is no use). */
  noRetryStatuses?: number[];
  /**
   * The request must not be sent twice (see the file comment): "refresh" (a refresh token that may rotate) or
   * "code" (an authorization code exchange that may create a token). Unknown outcomes fail with ANSWER_LOST.
   */
  once?: "refresh" | "code";
  /** The hint of an ANSWER_LOST error (what to do now), when the caller knows better than the default. */
  lostHint?: string;
}

export interface BufferedResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed body when it was JSON. */
  json?: unknown;
  /** A fresh Response over the buffered body, for oauth4webapi's processors. */
  toResponse(): Response;
}

/** Retry-After as seconds from now, from either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  // Bounded to the last instant a Date can print: `Retry-After: 99999999999999` must not become a RangeError.
  const latest = Math.max(0, (MAX_TIME_MS - nowMs) / 1000);
  // delay-seconds is 1*DIGIT (RFC 9110 §10.2.3); a fraction is tolerated, a sign is not.
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.min(Number(trimmed), latest);
  // HTTP-date: IMF-fixdate, and the obsolete RFC 850 and asctime forms, all of which Date.parse reads.
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, (date - nowMs) / 1000), latest);
}

/**
 * A server body for a message: an HTML page is summarised by its `<title>` (an error page of a proxy or load
 * balancer says what it is there), never inlined; anything else is a short redacted excerpt.
 */
export function describeBody(text: string, secrets: Iterable<string | undefined>, max = 200): string {
  if (looksHtml(text)) {
    const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(text)?.[1];
    const clean = title ? bodyExcerpt(title.replace(/<[^>]*>/g, ""), secrets, 80) : "";
    return clean ? `an HTML page titled "${clean}"` : "an HTML page";
  }
  return bodyExcerpt(text, secrets, max);
}

function looksHtml(text: string): boolean {
  return /^\s*(<!doctype html|<html|<head|<body|<\?xml|<[a-z][a-z0-9]*[\s>])/i.test(text);
}

/** Connection errors that happen before a single byte of the request is written: the server cannot have acted. */
const NOT_SENT = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "EAI_NONAME",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
  // TLS refused by us before the handshake completed: no application data was sent.
  "CERT_HAS_EXPIRED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  // The proxy refused the CONNECT tunnel (our name for undici's "Proxy response (N) !== 200"): the target saw nothing.
  "PROXY_TUNNEL_REFUSED",
]);

const UNTRUSTED = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
]);

/** Connection failures that a retry cannot change: the certificate is refused, or the proxy refuses us. */
function isPermanent(code: string, e: unknown): boolean {
  if (UNTRUSTED.has(code)) return true;
  if (["ERR_TLS_CERT_ALTNAME_INVALID", "CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"].includes(code)) return true;
  // 401 as well as 407: tinyproxy's BasicAuth answers wrong credentials with 401 (and only missing ones with 407).
  return code === "PROXY_TUNNEL_REFUSED" && /\((401|407|403)\)/.test(String(innerCause(e)?.message));
}

type CauseShape = {
  code?: unknown;
  message?: unknown;
  errors?: Array<{ code?: unknown }>;
  cause?: { code?: unknown; reason?: unknown };
  reason?: unknown;
  port?: unknown;
  address?: unknown;
  hostname?: unknown;
};

/** The socket- or TLS-level error inside a failed fetch (undici wraps a TLS failure behind a proxy once more). */
function innerCause(e: unknown): CauseShape | undefined {
  const cause = (e as { cause?: CauseShape }).cause;
  if (cause?.code === "UND_ERR_PRX_TLS" && cause.cause) return cause.cause as CauseShape;
  // A refused CONNECT reaches Node's fetch as an abort (DOMException) whose cause is undici's RequestAbortedError.
  const inner = cause?.cause as CauseShape | undefined;
  if (typeof inner?.message === "string" && PROXY_REFUSED.test(inner.message)) return inner;
  return cause;
}

const PROXY_REFUSED = /^Proxy response \(\d+\) !== 200/;

/**
 * The error code of a failed fetch (undici puts the socket's in `cause`, sometimes inside an AggregateError);
 * "PROXY_TUNNEL_REFUSED" when a proxy answered the CONNECT with something else than 200.
 */
export function networkCode(e: unknown): string | undefined {
  const cause = innerCause(e);
  if (typeof cause?.message === "string" && PROXY_REFUSED.test(cause.message)) return "PROXY_TUNNEL_REFUSED";
  if (typeof cause?.code === "string") return cause.code;
  const inner = cause?.errors?.find((x) => typeof x?.code === "string")?.code;
  if (typeof inner === "string") return inner;
  // fetch refuses the Fetch standard's blocked ports (6000, 6667, …) before connecting, with no code.
  return (cause as { message?: unknown } | undefined)?.message === "bad port" ? "BAD_PORT" : undefined;
}

function backoffDelay(attempt: number, policy: RetryPolicy, rt: Runtime): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const [b0 = 0, b1 = 0] = rt.randomBytes(2);
  const r = (b0 * 256 + b1) / 65536;
  // "Equal jitter": at least half the cap, so retries never hammer at once, spread over the other half.
  return Math.round(cap / 2 + (r * cap) / 2);
}

function isJsonText(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

class Transient extends Error {
  constructor(
    readonly error: HpauthError,
    readonly delayMs?: number,
  ) {
    super(error.message);
  }
}

export async function send(
  ctx: HttpContext,
  url: URL,
  init: RequestInit,
  options: SendOptions,
): Promise<BufferedResponse> {
  const { runtime: rt, retry } = ctx;
  let last: HpauthError | undefined;
  for (let attempt = 1; attempt <= retry.attempts; attempt++) {
    if (ctx.signal?.aborted) throw cancelled(ctx);
    try {
      return await attemptOnce(ctx, url, init, options);
    } catch (e) {
      if (!(e instanceof Transient)) throw e;
      last = e.error;
      if (attempt === retry.attempts) break;
      const delayMs = e.delayMs ?? backoffDelay(attempt, retry, rt);
      ctx.emit({
        type: "retry",
        // The error's message already names the request: no "what: what: …".
        message: `${e.error.message}; retrying in ${formatMs(delayMs)} (attempt ${attempt + 1} of ${retry.attempts})`,
        attempt: attempt + 1,
        delayMs,
        ...(e.error.status ? { status: e.error.status } : {}),
        code: e.error.code,
      });
      try {
        await rt.sleep(delayMs, ctx.signal);
      } catch {
        throw cancelled(ctx);
      }
    }
  }
  const err = last ?? new HpauthError("INTERNAL", `${options.what}: no attempt made`);
  throw new HpauthError(err.code, `${err.message} (gave up after ${retry.attempts} attempts)`, {
    hint: err.hint ?? "The service is failing or unreachable; try again later.",
    ...(err.status ? { status: err.status } : {}),
    ...(err.retryAt ? { retryAt: err.retryAt } : {}),
    provider: ctx.provider,
    profile: ctx.profile,
    cause: err,
  });
}

function cancelled(ctx: HttpContext): HpauthError {
  return new HpauthError("CANCELLED", "Cancelled.", { provider: ctx.provider, profile: ctx.profile });
}

/** An unknown outcome of a request that must not be repeated: said plainly, never retried. */
function answerLost(ctx: HttpContext, options: SendOptions, happened: string, cause?: unknown): HpauthError {
  const what =
    options.once === "refresh"
      ? "the server may have rotated the refresh token, so it was not sent again"
      : "the server may have used the authorization code and created a token, so it was not sent again";
  const hint =
    options.lostHint ??
    (options.once === "refresh"
      ? "Run the command again: the stored refresh token is tried once more, and if the server had rotated it the error says so for certain and a new login is needed."
      : "Log in again; the code cannot be used twice.");
  return new HpauthError("ANSWER_LOST", `${options.what}: ${happened}; ${what}`, {
    provider: ctx.provider,
    profile: ctx.profile,
    hint,
    ...(cause !== undefined ? { cause } : {}),
  });
}

async function attemptOnce(ctx: HttpContext, url: URL, init: RequestInit, options: SendOptions) {
  const { retry } = ctx;
  const timeoutMs = options.once ? retry.nonIdempotentTimeoutMs : retry.timeoutMs;
  const timeout = AbortSignal.timeout(timeoutMs);
  // A request that must not be repeated is never abandoned by a cancellation: its answer may be the only copy.
  const finish = ctx.finishSentRequests || !!options.once;
  const signal = ctx.signal && !finish ? AbortSignal.any([ctx.signal, timeout]) : timeout;
  const field = ctx.urlField?.(url);
  // Past the usual timeout a request sent once is still waited for: say so (progress line, --verbose).
  // (Only a request sent once can have a longer timeout than the usual one.)
  const slow =
    timeoutMs > retry.timeoutMs
      ? setTimeout(() => {
          ctx.emit({
            type: "waiting_answer",
            message: `${options.what}: no answer from ${url.origin} after ${formatMs(retry.timeoutMs)}; waiting up to ${formatMs(timeoutMs)}, as it is not sent twice`,
            waitedMs: retry.timeoutMs,
          });
        }, retry.timeoutMs)
      : undefined;
  slow?.unref?.();
  try {
    return await answer(ctx, url, init, options, { timeout, timeoutMs, finish, signal, field });
  } finally {
    clearTimeout(slow);
  }
}

interface AttemptState {
  timeout: AbortSignal;
  timeoutMs: number;
  finish: boolean;
  signal: AbortSignal;
  field: string | undefined;
}

async function answer(
  ctx: HttpContext,
  url: URL,
  init: RequestInit,
  options: SendOptions,
  { timeout, timeoutMs, finish, signal, field }: AttemptState,
): Promise<BufferedResponse> {
  const { runtime: rt, retry } = ctx;
  const common = { provider: ctx.provider, profile: ctx.profile };
  let res: Response;
  try {
    res = await rt.fetch(url, { ...init, signal, redirect: "manual" });
  } catch (e) {
    // The network's own verdict (an unreadable ca_file, a proxy setting that is no URL): nothing was sent.
    if (isHpauthError(e)) throw e;
    if (ctx.signal?.aborted && !finish) throw cancelled(ctx);
    const code = networkCode(e);
    if (timeout.aborted) {
      if (options.once) throw answerLost(ctx, options, `no answer from ${url.origin} within ${formatMs(timeoutMs)}`, e);
      throw new Transient(
        new HpauthError("TIMEOUT", `${options.what} to ${url.origin} timed out after ${formatMs(timeoutMs)}`, {
          ...common,
          cause: e,
        }),
      );
    }
    if (code === "BAD_PORT") {
      throw new HpauthError(
        "NETWORK_ERROR",
        `${options.what}: fetch refuses to connect to port ${url.port} of ${url.origin} (a port the Fetch standard blocks) — ${field ? `check ${field}` : "check the URL"}`,
        { ...common, cause: e, hint: "Use another port." },
      );
    }
    if (code !== undefined && NOT_SENT.has(code)) {
      const err = notSent(ctx, url, options, code, field, e);
      // A certificate the client refuses, or a proxy that says no, answers the same on every attempt.
      if (isPermanent(code, e)) throw err;
      throw new Transient(err);
    }
    if (options.once) {
      throw answerLost(
        ctx,
        options,
        `the connection to ${url.origin} was lost after the request was sent (${code ?? "connection closed"})`,
        e,
      );
    }
    throw new Transient(
      new HpauthError(
        "NETWORK_ERROR",
        `${options.what} to ${url.origin} failed: the connection was lost (${code ?? "connection closed"})`,
        { ...common, cause: e },
      ),
    );
  }
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    const code = networkCode(e);
    const happened = timeout.aborted
      ? `${url.origin} answered HTTP ${res.status} but its body did not arrive within ${formatMs(timeoutMs)}`
      : `${url.origin} answered HTTP ${res.status} but the connection was cut inside the body (${code ?? "truncated"})`;
    // An error status is the server's verdict even if its body is cut short: it did not act (see below).
    if (options.once && res.status < 400) throw answerLost(ctx, options, happened, e);
    if (ctx.signal?.aborted && !finish) throw cancelled(ctx);
    throw new Transient(
      new HpauthError(timeout.aborted ? "TIMEOUT" : "NETWORK_ERROR", `${options.what}: ${happened}`, {
        ...common,
        status: res.status,
        cause: e,
      }),
    );
  }
  const body = () => describeBody(text, ctx.secrets());
  if (options.noRetryStatuses?.includes(res.status)) {
    const out: BufferedResponse = {
      status: res.status,
      headers: res.headers,
      text,
      toResponse: () => new Response(text, { status: res.status, headers: res.headers }),
    };
    const parsed = isJsonText(text);
    if (parsed.ok) out.json = parsed.value;
    return out;
  }
  // From here on the server answered with a status. An error status (4xx, 5xx, including an HTML error page of a
  // gateway) says the request was not fulfilled (RFC 9110 §15.5, §15.6): a token endpoint that refuses or fails
  // has issued nothing and rotated nothing (RFC 6749 §5.2), so even a request that must not be repeated may be.
  if (res.status === 429 || res.status === 503) {
    const after = parseRetryAfter(res.headers.get("retry-after"), rt.now());
    const limited = res.status === 429;
    const code = limited ? "RATE_LIMITED" : "SERVER_ERROR";
    if (after !== undefined && after > retry.maxRetryAfterSeconds) {
      const retryAt = new Date(rt.now() + after * 1000);
      throw new HpauthError(
        code,
        `${options.what}: ${limited ? "rate limited by" : "service unavailable at"} ${url.origin} for ${formatDuration(after)} (HTTP ${res.status}, Retry-After until ${retryAt.toISOString()})`,
        {
          ...common,
          status: res.status,
          retryAt,
          hint: `Wait until ${retryAt.toISOString()}, then try again.`,
        },
      );
    }
    throw new Transient(
      new HpauthError(
        code,
        `${options.what}: HTTP ${res.status} from ${url.origin}${limited ? "" : `: ${body()}`}${after !== undefined ? ` (Retry-After ${formatDuration(after)})` : ""}`,
        {
          ...common,
          status: res.status,
          ...(after !== undefined ? { retryAt: new Date(rt.now() + after * 1000) } : {}),
        },
      ),
      after !== undefined ? Math.ceil(after * 1000) : undefined,
    );
  }
  if (res.status >= 500) {
    throw new Transient(
      new HpauthError("SERVER_ERROR", `${options.what}: HTTP ${res.status} from ${url.origin}: ${body()}`, {
        ...common,
        status: res.status,
      }),
    );
  }
  const parsed = isJsonText(text);
  if (options.expectJson && res.status >= 200 && res.status < 300 && !parsed.ok) {
    const what = `${url.origin} answered HTTP ${res.status} with ${looksHtml(text) ? describeBody(text, ctx.secrets()) : text.trim() === "" ? "an empty body" : "a malformed body"} instead of JSON`;
    // A 2xx says the server did what was asked: a refresh rotated, a code exchange created a token. That the
    // body is unreadable does not undo it, so this is an unknown outcome, not a failure to retry.
    if (options.once) throw answerLost(ctx, options, what);
    throw new Transient(
      new HpauthError("INVALID_RESPONSE", `${options.what}: ${what}`, { ...common, status: res.status }),
    );
  }
  const headers = res.headers;
  const status = res.status;
  const out: BufferedResponse = {
    status,
    headers,
    text,
    // Null-body statuses may not carry even an empty body in the Response constructor.
    toResponse: () => new Response([101, 204, 205, 304].includes(status) ? null : text, { status, headers }),
  };
  if (parsed.ok) out.json = parsed.value;
  return out;
}

/** A connection that was never made: the server cannot have acted, so even a refresh may be sent again. */
function notSent(
  ctx: HttpContext,
  url: URL,
  options: SendOptions,
  code: string,
  field: string | undefined,
  cause: unknown,
): HpauthError {
  const e = connectFailure(url, code, cause, { what: options.what, field, route: ctx.route?.(url) });
  return new HpauthError("NETWORK_ERROR", e.message, {
    provider: ctx.provider,
    profile: ctx.profile,
    cause,
    ...(e.hint ? { hint: e.hint } : {}),
  });
}

/**
 * What a connection failure means and what to do, for a request that never reached the server: refused, no such
 * host, unreachable, the proxy down or refusing the tunnel, a TLS certificate not trusted / for another name /
 * expired. Shared by the engine's requests and the CLI's own API calls (`hpauth request`).
 */
export function connectFailure(
  url: URL,
  code: string,
  error: unknown,
  info: { what: string; field?: string | undefined; route?: Route | undefined },
): { message: string; hint?: string } {
  const { what, field } = info;
  const check = field ? `check ${field}` : "check the URL";
  const proxy = info.route?.proxy;
  const proxyName = proxy ? `the proxy ${showProxy(proxy.url)} (${proxy.from})` : "";
  const via = proxy ? ` through ${proxyName}` : "";
  const cause = innerCause(error);
  const fromProxy =
    proxy !== undefined &&
    ((typeof cause?.port === "number" &&
      cause.port === (Number(proxy.url.port) || (proxy.url.protocol === "https:" ? 443 : 80))) ||
      (typeof cause?.hostname === "string" && cause.hostname === proxy.url.hostname));
  const fixProxy = `Check ${proxy?.from === "proxy" ? "the profile's proxy" : (proxy?.from ?? "the proxy setting")}; a host reachable without the proxy can go in NO_PROXY.`;
  if (fromProxy && (code === "ECONNREFUSED" || code.startsWith("EAI_") || code === "ENOTFOUND")) {
    return {
      message: `${what}: cannot connect to ${proxyName} to reach ${url.origin} (${code})`,
      hint: fixProxy,
    };
  }
  if (code === "PROXY_TUNNEL_REFUSED") {
    const status = /\((\d+)\)/.exec(String(cause?.message))?.[1];
    const target = `${url.hostname}:${url.port || (url.protocol === "https:" ? 443 : 80)}`;
    return {
      message: `${what}: ${proxyName || "the proxy"} refused to open a tunnel to ${target} (HTTP ${status ?? "?"})`,
      hint:
        status === "407" || status === "401"
          ? `The proxy wants credentials: put them in its URL in ${proxy?.from ?? "HTTPS_PROXY"}, before the host (user, a colon, the password, then @; URL-encoded), set from a secret store rather than a file others can read.`
          : `The proxy does not let this host through: ask its administrators, or — if ${url.hostname} is reachable directly — add it to NO_PROXY.`,
    };
  }
  if (code === "ECONNREFUSED") {
    return {
      message: `${what}: connection refused by ${url.origin} — ${check} (nothing listens there)`,
      hint: `Check the profile's ${field ?? "URL"} (${url.origin}): host and port, and that the service is running.`,
    };
  }
  if (code.startsWith("EAI_") || code === "ENOTFOUND") {
    return {
      message: `${what}: cannot resolve the host ${url.hostname} (${code}) — ${check}`,
      hint: `Check the profile's ${field ?? "URL"} (${url.origin}) for a typo, and the network's DNS${proxy ? "" : " (behind a corporate proxy: set HTTPS_PROXY)"}.`,
    };
  }
  if (["UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL"].includes(code)) {
    return {
      message: `${what}: cannot reach ${url.origin}${via} (${code}) — ${check}, and the network or proxy`,
      hint: proxy ? fixProxy : "If this network reaches the internet only through a proxy, set HTTPS_PROXY.",
    };
  }
  if (UNTRUSTED.has(code)) {
    return {
      message: `${what}: the TLS certificate of ${url.origin}${via} is signed by a certificate authority this machine does not trust (${code})`,
      hint: `If the service${proxy ? " or the proxy (TLS inspection)" : " or a TLS-inspecting proxy"} uses a private CA, set the profile's ca_file (or NODE_EXTRA_CA_CERTS) to that CA's PEM file; \`hpauth doctor\` checks it.`,
    };
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    const reason = typeof cause?.reason === "string" ? `: ${cause.reason}` : "";
    // undici wraps (UND_ERR_PRX_TLS) a name mismatch of the https:// proxy's own certificate, not the service's.
    if (proxy && (error as { cause?: { code?: unknown } }).cause?.code === "UND_ERR_PRX_TLS") {
      return {
        message: `${what}: the TLS certificate of ${proxyName} is not valid for the name ${proxy.url.hostname}${reason}`,
        hint: `Use the host name the proxy's certificate was issued for in ${proxy.from === "proxy" ? "the profile's proxy" : proxy.from}.`,
      };
    }
    return {
      message: `${what}: the TLS certificate of ${url.origin}${via} is not valid for the name ${url.hostname}${reason} — ${check}`,
      hint: `Use the host name the certificate was issued for in the profile's ${field ?? "URL"}; a TLS-inspecting proxy must issue certificates for ${url.hostname}.`,
    };
  }
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") {
    return {
      message: `${what}: the TLS certificate of ${url.origin}${via} ${code === "CERT_HAS_EXPIRED" ? "has expired" : "is not valid yet"} (${code})`,
      hint: "Check this machine's clock (`hpauth doctor` shows its skew against the server); if the clock is right, the server's certificate needs renewing.",
    };
  }
  return {
    message: `${what}: the TLS connection to ${url.origin}${via} was refused (${code}) — ${check}`,
    hint: "The server's certificate is not accepted here: check the URL, or set the profile's ca_file (or NODE_EXTRA_CA_CERTS) to the PEM file of the CA that signs it.",
  };
}
