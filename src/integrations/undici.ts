/**
 * `hpauth/undici`: an undici 7 interceptor that sends the profile's Bearer token and heals a refused one.
 *
 *   import { Agent, request } from "undici";
 *   import { authInterceptor } from "hpauth/undici";
 *   const dispatcher = new Agent().compose(authInterceptor(manager));
 *   await request(`${apiBase}/api/v1/storage-systems`, { dispatcher });
 *
 * Requests to the profile's API origin get `Authorization: Bearer <token>` (a request that already carries an
 * Authorization header is left as it is, and so is every other origin: the token never leaves its API). A refused
 * token (401, and the provider's variants — `manager.isAuthFailure`) is renewed once (`renewRejected`, one refresh
 * shared with every concurrent caller) and the request is sent once more, when its body can be sent twice (none, a
 * string or bytes); a streamed body's 401 goes to the caller as it came.
 *
 * Only undici's public dispatcher/handler interface is used, and only as types: nothing of our copy of undici is
 * loaded at run time, so the interceptor works with the user's own undici 7 (`compose` hands interceptors the
 * `onRequestStart`/`onResponseStart`/`onResponseData`/`onResponseEnd`/`onResponseError` handler of undici 7;
 * undici's own interceptors are the model: lib/interceptor/dns.js for the asynchronous start, retry-handler.js for
 * the stable controller across attempts).
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";
import { isApiOrigin, type TokenSource } from "./types.js";

export type { TokenSource } from "./types.js";

type Dispatch = Dispatcher.Dispatch;
type DispatchOptions = Dispatcher.DispatchOptions;
type DispatchHandler = Dispatcher.DispatchHandler;
type DispatchController = Dispatcher.DispatchController;
type HeaderMap = Record<string, string | string[]>;

/** Error bodies (400/401/403) are held back to decide whether the token was refused; beyond this they just flow. */
const HOLD_LIMIT_BYTES = 1 << 20;
const AUTH_STATUSES = new Set([400, 401, 403]);

export interface AuthInterceptorOptions {
  /** Ask for a token valid at least this long (default: the engine's refresh margin). */
  minTtlSeconds?: number;
}

/** `new Agent().compose(authInterceptor(manager))` (or `getGlobalDispatcher().compose(…)` for fetch). */
export function authInterceptor(source: TokenSource, options: AuthInterceptorOptions = {}): (d: Dispatch) => Dispatch {
  if (!source || typeof source.getToken !== "function" || typeof source.renewRejected !== "function") {
    throw new TypeError("authInterceptor(manager): pass a TokenManager (createTokenManager)");
  }
  // The profile (so its API origin) never changes: remember the verdict per origin instead of asking each time.
  const verdicts = new Map<string, boolean>();
  const allowed = (opts: DispatchOptions): boolean => {
    if (!opts.origin) return false;
    const key = typeof opts.origin === "string" ? opts.origin : opts.origin.href;
    let v = verdicts.get(key);
    if (v === undefined) {
      const origin = originOf(opts);
      v = origin !== undefined && isApiOrigin(source, origin);
      if (verdicts.size < 256) verdicts.set(key, v);
    }
    return v;
  };
  return (dispatch) =>
    function hpauthInterceptor(opts: DispatchOptions, handler: DispatchHandler): boolean {
      if (!allowed(opts)) return dispatch(opts, handler);
      const headers = toHeaderMap(opts.headers);
      if ("authorization" in headers) return dispatch(opts, handler);
      const run = new AuthRun(source, dispatch, opts, headers, handler, options);
      run.start();
      return true;
    };
}

function originOf(opts: DispatchOptions): string | undefined {
  if (!opts.origin) return undefined;
  try {
    return typeof opts.origin === "string" ? new URL(opts.origin).origin : opts.origin.origin;
  } catch {
    return undefined;
  }
}

/** undici accepts headers as an object, a flat `[name, value, …]` array, or an iterable of pairs. */
function toHeaderMap(input: DispatchOptions["headers"]): HeaderMap {
  const out: HeaderMap = {};
  const add = (k: unknown, v: unknown) => {
    if (v === undefined || v === null) return;
    const name = String(k).toLowerCase();
    const value = Array.isArray(v) ? v.map(String) : String(v);
    const prev = out[name];
    out[name] = prev === undefined ? value : [...[prev].flat(), ...[value].flat()];
  };
  if (!input) return out;
  if (Array.isArray(input)) {
    if (input.length > 0 && Array.isArray(input[0]))
      for (const [k, v] of input as unknown as [string, string][]) add(k, v);
    else for (let i = 0; i + 1 < input.length; i += 2) add(input[i], input[i + 1]);
  } else if (typeof (input as Iterable<unknown>)[Symbol.iterator] === "function") {
    for (const [k, v] of input as Iterable<[string, string]>) add(k, v);
  } else {
    for (const [k, v] of Object.entries(input)) add(k, v);
  }
  return out;
}

/** A body undici can send a second time unchanged. */
function replayable(body: DispatchOptions["body"]): boolean {
  return body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array;
}

/**
 * The controller the caller's handler sees for the whole request, whichever attempt is on the wire (undici's
 * RetryHandler does the same): pause, resume and abort reach the live attempt; an abort between attempts is kept.
 */
class StableController implements DispatchController {
  target: DispatchController | null = null;
  #paused = false;
  #abortReason: Error | null = null;

  attach(target: DispatchController): void {
    this.target = target;
    if (this.#abortReason) target.abort(this.#abortReason);
    else if (this.#paused) target.pause();
  }
  get aborted(): boolean {
    return this.#abortReason !== null || (this.target?.aborted ?? false);
  }
  get paused(): boolean {
    return this.#paused || (this.target?.paused ?? false);
  }
  get reason(): Error | null {
    return this.#abortReason ?? this.target?.reason ?? null;
  }
  get rawHeaders() {
    return this.target?.rawHeaders ?? null;
  }
  get rawTrailers() {
    return this.target?.rawTrailers ?? null;
  }
  abort(reason: Error): void {
    this.#abortReason = reason;
    this.target?.abort(reason);
  }
  pause(): void {
    this.#paused = true;
    this.target?.pause();
  }
  resume(): void {
    this.#paused = false;
    this.target?.resume();
  }
}

interface HeldResponse {
  status: number;
  headers: IncomingHttpHeaders;
  statusMessage?: string;
  chunks: Buffer[];
  size: number;
}

class AuthRun implements DispatchHandler {
  readonly #source: TokenSource;
  readonly #dispatch: Dispatch;
  readonly #opts: DispatchOptions;
  readonly #headers: HeaderMap;
  readonly #handler: DispatchHandler;
  readonly #minTtl: number | undefined;
  readonly #controller = new StableController();
  #started = false;
  #retried = false;
  #token = "";
  /** A held-back error response of the first attempt. */
  #held?: HeldResponse;

  constructor(
    source: TokenSource,
    dispatch: Dispatch,
    opts: DispatchOptions,
    headers: HeaderMap,
    handler: DispatchHandler,
    options: AuthInterceptorOptions,
  ) {
    this.#source = source;
    this.#dispatch = dispatch;
    this.#opts = opts;
    this.#headers = headers;
    this.#handler = handler;
    this.#minTtl = options.minTtlSeconds;
  }

  start(): void {
    this.#source
      .getToken(this.#minTtl !== undefined ? { minTtlSeconds: this.#minTtl } : {})
      .then((t) => this.#send(t.accessToken))
      .catch((e: unknown) => this.#fail(e));
  }

  #send(token: string): void {
    if (this.#controller.aborted) {
      this.#fail(this.#controller.reason ?? new Error("aborted"));
      return;
    }
    this.#token = token;
    this.#dispatch({ ...this.#opts, headers: { ...this.#headers, authorization: `Bearer ${token}` } }, this);
  }

  #fail(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    this.#handler.onResponseError?.(this.#controller, err);
  }

  // ---- the handler undici calls for each attempt ----

  onRequestStart(controller: DispatchController, context: unknown): void {
    this.#controller.attach(controller);
    if (this.#started) return;
    this.#started = true;
    this.#handler.onRequestStart?.(this.#controller, context);
  }

  onRequestUpgrade(_c: DispatchController, statusCode: number, headers: IncomingHttpHeaders, socket: never): void {
    this.#handler.onRequestUpgrade?.(this.#controller, statusCode, headers, socket);
  }

  onResponseStart(
    _c: DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (!this.#retried && AUTH_STATUSES.has(statusCode) && replayable(this.#opts.body)) {
      this.#held = {
        status: statusCode,
        headers,
        ...(statusMessage !== undefined ? { statusMessage } : {}),
        chunks: [],
        size: 0,
      };
      return;
    }
    this.#handler.onResponseStart?.(this.#controller, statusCode, headers, statusMessage);
  }

  onResponseData(_c: DispatchController, chunk: Buffer): void {
    const held = this.#held;
    if (!held) {
      this.#handler.onResponseData?.(this.#controller, chunk);
      return;
    }
    held.chunks.push(chunk);
    held.size += chunk.length;
    // Too big to be a token refusal worth replaying: hand over what came and let the rest flow.
    if (held.size > HOLD_LIMIT_BYTES) this.#release();
  }

  onResponseEnd(_c: DispatchController, trailers: IncomingHttpHeaders): void {
    const held = this.#held;
    if (!held) {
      this.#handler.onResponseEnd?.(this.#controller, trailers);
      return;
    }
    this.#decide(held, trailers).catch((e: unknown) => this.#fail(e));
  }

  onResponseError(_c: DispatchController, err: Error): void {
    this.#held = undefined;
    this.#handler.onResponseError?.(this.#controller, err);
  }

  // ---- the one retry ----

  async #decide(held: HeldResponse, trailers: IncomingHttpHeaders): Promise<void> {
    const body = Buffer.concat(held.chunks);
    const probe = new Response(body.length > 0 ? body : null, {
      status: held.status,
      headers: toFetchHeaders(held.headers),
    });
    if (!(await this.#source.isAuthFailure(probe))) {
      this.#release();
      this.#handler.onResponseEnd?.(this.#controller, trailers);
      return;
    }
    this.#held = undefined;
    this.#retried = true;
    // One retry, never a loop: whatever the second attempt answers goes to the caller.
    const fresh = await this.#source.renewRejected(this.#token);
    this.#send(fresh.accessToken);
  }

  #release(): void {
    const held = this.#held;
    if (!held) return;
    this.#held = undefined;
    this.#handler.onResponseStart?.(this.#controller, held.status, held.headers, held.statusMessage);
    for (const c of held.chunks) this.#handler.onResponseData?.(this.#controller, c);
  }
}

function toFetchHeaders(h: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    for (const one of [v].flat()) out.append(k, one);
  }
  return out;
}
