/**
 * HTTP for identity endpoints: one request, bounded retries for what is transient (5xx, 429 with a short
 * Retry-After, timeouts, dropped connections, HTML or broken JSON where JSON was due), never for what is not
 * (4xx: configuration and credential errors). The body is read inside the retry loop, because a truncated body
 * or an HTML error page is as transient as a 503. The answer comes back buffered, so a `processXResponse`
 * (ours or oauth4webapi's) can read it again.
 */
import { MAX_TIME_MS } from "./dates.js";
import { HpauthError } from "./errors.js";
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
  /** A 429's Retry-After up to this is waited out; beyond it the caller gets RATE_LIMITED with retryAt. */
  maxRetryAfterSeconds: number;
  /** Per-attempt timeout (default 15 s). */
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 3,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
  maxRetryAfterSeconds: 10,
  timeoutMs: 15_000,
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
}

export interface SendOptions {
  /** What this request is, for messages and events ("token request", "Aruba login"). */
  what: string;
  /** JSON is due on 2xx (token endpoints): anything else is treated as a transient server fault. */
  expectJson: boolean;
  /** Statuses answered at once, not retried (Aruba's 429 on login means its 30-minute budget: waiting 10 s is no use). */
  noRetryStatuses?: number[];
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
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.min(Number(trimmed), latest);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, (date - nowMs) / 1000), latest);
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
        message: `${options.what}: ${e.error.message}; retrying in ${delayMs} ms (attempt ${attempt + 1} of ${retry.attempts})`,
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
    provider: ctx.provider,
    profile: ctx.profile,
    cause: err,
  });
}

function cancelled(ctx: HttpContext): HpauthError {
  return new HpauthError("CANCELLED", "Cancelled.", { provider: ctx.provider, profile: ctx.profile });
}

async function attemptOnce(ctx: HttpContext, url: URL, init: RequestInit, options: SendOptions) {
  const { runtime: rt, retry } = ctx;
  const timeout = AbortSignal.timeout(retry.timeoutMs);
  const signal = ctx.signal && !ctx.finishSentRequests ? AbortSignal.any([ctx.signal, timeout]) : timeout;
  const common = { provider: ctx.provider, profile: ctx.profile };
  let res: Response;
  let text: string;
  try {
    res = await rt.fetch(url, { ...init, signal, redirect: "manual" });
    text = await res.text();
  } catch (e) {
    if (ctx.signal?.aborted && !ctx.finishSentRequests) throw cancelled(ctx);
    if (timeout.aborted) {
      throw new Transient(
        new HpauthError("TIMEOUT", `${options.what} to ${url.origin} timed out after ${retry.timeoutMs} ms`, {
          ...common,
          cause: e,
        }),
      );
    }
    const code = (e as { cause?: { code?: string } }).cause?.code;
    throw new Transient(
      new HpauthError(
        "NETWORK_ERROR",
        `${options.what} to ${url.origin} failed: ${code ?? (e as Error).message ?? "connection error"}`,
        { ...common, cause: e },
      ),
    );
  }
  const excerpt = () => bodyExcerpt(text, ctx.secrets());
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
  if (res.status === 429) {
    const after = parseRetryAfter(res.headers.get("retry-after"), rt.now());
    if (after !== undefined && after > retry.maxRetryAfterSeconds) {
      throw new HpauthError(
        "RATE_LIMITED",
        `${options.what}: rate limited by ${url.origin} for ${Math.ceil(after)} s (until ${new Date(rt.now() + after * 1000).toISOString()})`,
        {
          ...common,
          status: 429,
          retryAt: new Date(rt.now() + after * 1000),
          hint: "Wait until the time given, then try again.",
        },
      );
    }
    throw new Transient(
      new HpauthError("RATE_LIMITED", `${options.what}: HTTP 429 from ${url.origin}`, {
        ...common,
        status: 429,
        ...(after !== undefined ? { retryAt: new Date(rt.now() + after * 1000) } : {}),
      }),
      after !== undefined ? Math.ceil(after * 1000) : undefined,
    );
  }
  if (res.status >= 500) {
    throw new Transient(
      new HpauthError("SERVER_ERROR", `${options.what}: HTTP ${res.status} from ${url.origin}: ${excerpt()}`, {
        ...common,
        status: res.status,
      }),
    );
  }
  const parsed = text.trim() === "" ? { ok: false as const } : isJsonText(text);
  if (options.expectJson && res.status >= 200 && res.status < 300 && !parsed.ok) {
    const looksHtml = /^\s*</.test(text);
    throw new Transient(
      new HpauthError(
        "INVALID_RESPONSE",
        `${options.what}: ${looksHtml ? "an HTML page" : "a malformed or truncated body"} instead of JSON from ${url.origin} (HTTP ${res.status})`,
        { ...common, status: res.status },
      ),
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
