/**
 * `startProxy()`: one local reverse-proxy listener per profile. Every request gets the profile's token from its
 * TokenManager (`getToken()`: never one the engine knows is expired), goes upstream with the caller's credentials
 * and hop-by-hop headers removed, and streams both ways. A refused token (the engine's `isAuthFailure`) is handed to
 * `renewRejected` — one renewal for all requests that saw it — and the request is sent once more if it can be
 * replayed. No caching and no refresh logic here: the engine does both.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { Agent, type Dispatcher, EnvHttpProxyAgent } from "undici";
import { rfc3339 } from "../engine/dates.js";
import { HpauthError, isHpauthError } from "../engine/errors.js";
import type { TokenManager } from "../engine/manager.js";
import { redact } from "../engine/redact.js";
import type { AccessToken } from "../engine/types.js";
import { type AllowRule, allowed, rulesFor } from "./allow.js";
import { allowedHosts, downstreamResponseHeaders, isLoopbackHost, upstreamRequestHeaders, urlHost } from "./headers.js";
import { ProxyMetrics, statusClass } from "./metrics.js";

/** The reserved path prefix of the proxy's own endpoints: a dot segment no API path uses. */
export const RESERVED_PREFIX = "/.hpauth/";

/** Request bodies up to this size are buffered so that a token refusal can be retried with the same body. */
export const DEFAULT_REPLAY_LIMIT = 64 * 1024;

/**
 * Answers held back until the engine has judged whether they refuse the token (`isAuthFailure`: 401, and the
 * providers' 400/403 variants, such as GreenLake's HPE_GL_ERROR bodies); every other answer streams straight through.
 */
const AUTH_STATUSES = new Set([400, 401, 403]);
/** How much of a held answer the engine may read to judge it (the rest waits, paused, for the verdict). */
const PROBE_LIMIT = 64 * 1024;

/** What the proxy needs of a TokenManager (the engine's public surface for layers that send requests themselves). */
export type ProxyTokenSource = Pick<TokenManager, "getToken" | "renewRejected" | "isAuthFailure" | "apiUrl"> & {
  profile: { name: string };
};

export interface ProxyTarget {
  /** Profile name: the key of the ready line. */
  name: string;
  manager: ProxyTokenSource;
  /** Port for this listener (0: a free one). */
  port?: number;
  /**
   * This profile's upstream dispatcher — its own `proxy` / `ca_file` (the engine's `manager.network.dispatcher()`,
   * owned and closed by its network, not here); default: the proxy's own.
   */
  dispatcher?: Dispatcher;
}

export interface ProxyOptions {
  targets: ProxyTarget[];
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Required to bind anything but loopback. */
  allowRemote?: boolean;
  /** `METHOD /glob` rules (see allow.ts); none: everything is forwarded. */
  allow?: readonly AllowRule[];
  /** Upstream dispatcher; default: an undici EnvHttpProxyAgent (keep-alive pool, HTTPS_PROXY/NO_PROXY from `env`). */
  dispatcher?: Dispatcher;
  /** Environment for the default dispatcher's proxy settings (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  replayLimitBytes?: number;
  /** One access-log line per request (no tokens, no cookies, query strings redacted). */
  log?: (line: string) => void;
  /** How long close() waits for in-flight requests before cutting them (default 30 s). */
  drainTimeoutMs?: number;
  /** Process metrics in /.hpauth/metrics (default true). */
  processMetrics?: boolean;
}

export interface ProxyEndpoint {
  url: string;
  upstream: string;
  healthUrl: string;
  metricsUrl: string;
}

export interface RunningProxy {
  proxies: Record<string, ProxyEndpoint>;
  metrics: ProxyMetrics;
  /** Stops accepting, lets in-flight requests finish (up to drainTimeoutMs), closes upstream connections. */
  close(): Promise<void>;
}

interface Listener {
  target: ProxyTarget;
  upstream: URL;
  /** `upstream.origin` and its path without the trailing slash: what each request's target is appended to. */
  upstreamOrigin: string;
  upstreamPrefix: string;

  rules: AllowRule[];
  /** The target's dispatcher, else the proxy's. */
  dispatcher: Dispatcher;
  hosts: Set<string>;
  origin: string;
  /** The last renewed token counted in the metrics (a renewal shared by N requests is one renewal). */
  lastRenewal?: string;
  /** The getToken() under way, shared by the requests that arrive meanwhile. */
  pending?: Promise<AccessToken> | undefined;
}

/** A 502/503/403… answer of the proxy itself: JSON, snake_case. */
function sendOwn(
  res: ServerResponse,
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

/** The engine's error as the JSON of a 502 (message and hint redacted once more: they may quote a server). */
function tokenErrorBody(e: unknown, profile: string): { body: Record<string, unknown>; retryAfter?: string } {
  if (isHpauthError(e)) {
    const body: Record<string, unknown> = {
      error: "token_unavailable",
      code: e.code,
      message: redact(e.message),
      profile,
    };
    if (e.hint) body.hint = redact(e.hint);
    if (e.retryAt) body.retry_at = rfc3339(e.retryAt, "up");
    const out: { body: Record<string, unknown>; retryAfter?: string } = { body };
    if (e.retryAt) out.retryAfter = String(Math.max(1, Math.ceil((e.retryAt.getTime() - Date.now()) / 1000)));
    return out;
  }
  return {
    body: {
      error: "token_unavailable",
      code: "INTERNAL",
      message: redact(String((e as Error)?.message ?? e)),
      profile,
    },
  };
}

/** Reads up to `limit` bytes: the whole body if it fits (replayable), else the chunks read so far and the rest. */
async function readPrefix(
  req: IncomingMessage,
  limit: number,
): Promise<{ chunks: Buffer[]; ended: boolean; rest: AsyncIterator<Buffer> }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const rest = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  for (;;) {
    const { value, done } = await rest.next();
    if (done) return { chunks, ended: true, rest };
    chunks.push(value);
    size += value.length;
    if (size > limit) return { chunks, ended: false, rest };
  }
}

/** The chunks already read, then the rest of the same iterator (a second iterator on a stream would race the first). */
function prefixed(chunks: Buffer[], rest: AsyncIterator<Buffer>): Readable {
  return Readable.from(
    (async function* () {
      yield* chunks;
      for (;;) {
        const { value, done } = await rest.next();
        if (done) return;
        yield value;
      }
    })(),
    { objectMode: false },
  );
}

function hasBody(req: IncomingMessage): boolean {
  const len = req.headers["content-length"];
  if (len !== undefined) return Number(len) > 0;
  return req.headers["transfer-encoding"] !== undefined;
}

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopbackHost(host) && !options.allowRemote) {
    throw new HpauthError(
      "USAGE",
      `Refusing to listen on ${host}: the proxy hands out API access to whoever reaches it`,
      {
        hint: "Bind to 127.0.0.1 (the default), or pass --allow-remote if every host that can reach it may use the token.",
      },
    );
  }
  if (options.targets.length === 0) throw new TypeError("startProxy needs at least one target");
  const names = new Set<string>();
  for (const t of options.targets) {
    if (names.has(t.name)) throw new TypeError(`profile "${t.name}" given twice`);
    names.add(t.name);
  }
  const replayLimit = options.replayLimitBytes ?? DEFAULT_REPLAY_LIMIT;
  const ownDispatcher = !options.dispatcher;
  const env = options.env ?? process.env;
  const httpProxy = env.HTTP_PROXY || env.http_proxy;
  const httpsProxy = env.HTTPS_PROXY || env.https_proxy;
  // EnvHttpProxyAgent picks its agent per request (a URL parse and a NO_PROXY match each time); with no proxy set
  // anywhere it would pick its plain Agent every time, so that Agent is used directly. (It also falls back to
  // process.env, hence both are asked.)
  const anyProxy =
    httpProxy || httpsProxy || process.env.HTTP_PROXY || process.env.http_proxy || process.env.HTTPS_PROXY;
  const dispatcher =
    options.dispatcher ??
    (anyProxy || process.env.https_proxy
      ? new EnvHttpProxyAgent({
          keepAliveTimeout: 30_000,
          ...(httpProxy ? { httpProxy: env.HTTP_PROXY ?? env.http_proxy } : {}),
          ...(httpsProxy ? { httpsProxy: env.HTTPS_PROXY ?? env.https_proxy } : {}),
          ...(env.NO_PROXY !== undefined || env.no_proxy !== undefined
            ? { noProxy: env.NO_PROXY ?? env.no_proxy }
            : {}),
        })
      : new Agent({ keepAliveTimeout: 30_000 }));
  const metrics = new ProxyMetrics(options.processMetrics === false ? { processMetrics: false } : {});
  const log = options.log;
  const servers: Server[] = [];
  /** Requests being answered, and the close() waiting for them to be none. */
  let inFlight = 0;
  let drained: (() => void) | undefined;
  let closing = false;

  const countRenewal = (l: Listener, t: AccessToken) => {
    if (t.source === "cache" || t.accessToken === l.lastRenewal) return;
    l.lastRenewal = t.accessToken;
    metrics.renewals.inc({ profile: l.target.name, source: t.source });
  };

  async function token(l: Listener, rejected?: string): Promise<AccessToken> {
    let t: AccessToken;
    if (rejected) t = await l.target.manager.renewRejected(rejected);
    else {
      // Requests arriving while a getToken() is under way share its answer instead of each reading the store (the
      // file store reads a file per call): a single flight of the read, not a cache — nothing outlives the call,
      // so the engine still judges every token's expiry, at most one store read ago.
      l.pending ??= l.target.manager.getToken().finally(() => {
        l.pending = undefined;
      });
      t = await l.pending;
    }
    countRenewal(l, t);
    return t;
  }

  async function own(l: Listener, path: string, req: IncomingMessage, res: ServerResponse): Promise<number> {
    req.resume();
    const profile = l.target.name;
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendOwn(res, 405, { error: "method_not_allowed", message: `${path} answers GET` }, { allow: "GET, HEAD" });
      return 405;
    }
    switch (path) {
      case `${RESERVED_PREFIX}healthz`:
        sendOwn(res, 200, { status: "ok", profile });
        return 200;
      case `${RESERVED_PREFIX}readyz`:
        try {
          const t = await token(l);
          sendOwn(res, 200, { status: "ready", profile, expires_at: rfc3339(t.expiresAt) });
          return 200;
        } catch (e) {
          const { body, retryAfter } = tokenErrorBody(e, profile);
          sendOwn(res, 503, { ...body, status: "not_ready" }, retryAfter ? { "retry-after": retryAfter } : {});
          return 503;
        }
      case `${RESERVED_PREFIX}metrics`: {
        const text = await metrics.text();
        res.writeHead(200, {
          "content-type": metrics.registry.contentType,
          "content-length": Buffer.byteLength(text),
          "cache-control": "no-store",
        });
        res.end(text);
        return 200;
      }
      default:
        sendOwn(res, 404, {
          error: "not_found",
          message: `The proxy's own endpoints are ${RESERVED_PREFIX}healthz, readyz and metrics`,
        });
        return 404;
    }
  }

  function tokenFailure(l: Listener, e: unknown, req: IncomingMessage, res: ServerResponse): number {
    req.resume();
    const { body, retryAfter } = tokenErrorBody(e, l.target.name);
    metrics.tokenFailures.inc({ profile: l.target.name, code: String(body.code) });
    sendOwn(res, 502, body, retryAfter ? { "retry-after": retryAfter } : {});
    return 502;
  }

  const ctx: ForwardContext = { token, tokenFailure, metrics };

  async function forward(l: Listener, req: IncomingMessage, res: ServerResponse, target: string): Promise<number> {
    const f = new Forward(ctx, l, req, res, target);
    // The body: none, small enough to buffer (then replayable), or streamed as it comes.
    if (hasBody(req)) {
      const declared = Number(req.headers["content-length"]);
      if (Number.isFinite(declared) && declared > replayLimit) f.streamBody(req);
      else {
        try {
          const { chunks, ended, rest } = await readPrefix(req, replayLimit);
          if (ended) f.replayableBody(chunks);
          else f.streamBody(prefixed(chunks, rest));
        } catch (e) {
          f.fail(e as Error); // the caller's body broke off (if the caller is gone, nothing is sent: 499)
          return f.done;
        }
      }
    }
    let t: AccessToken;
    try {
      t = await token(l);
    } catch (e) {
      f.settle(tokenFailure(l, e, req, res));
      return f.done;
    }
    f.send(t.accessToken);
    return f.done;
  }

  function reject(
    l: Listener,
    res: ServerResponse,
    req: IncomingMessage,
    status: number,
    reason: string,
    message: string,
  ) {
    req.resume();
    metrics.rejected.inc({ profile: l.target.name, reason });
    sendOwn(res, status, { error: reason, message });
    return status;
  }

  async function handle(l: Listener, req: IncomingMessage, res: ServerResponse): Promise<number> {
    const host = (req.headers.host ?? "").toLowerCase();
    if (!l.hosts.has(host)) {
      return reject(l, res, req, 403, "forbidden_host", `Host "${redact(host)}" is not this proxy (use ${l.origin})`);
    }
    // A web page may POST to 127.0.0.1 (no CORS preflight for a form): browsers say so in Origin / Sec-Fetch-Site.
    const origin = req.headers.origin;
    const site = req.headers["sec-fetch-site"];
    if (
      (origin !== undefined && !l.hosts.has(origin.replace(/^http:\/\//i, "").toLowerCase())) ||
      (site && site !== "same-origin" && site !== "none")
    ) {
      return reject(l, res, req, 403, "cross_origin", "Cross-origin browser requests are refused");
    }
    const target = req.url ?? "/";
    if (!target.startsWith("/")) return reject(l, res, req, 400, "bad_request_target", "Send origin-form paths (/…)");
    const q = target.indexOf("?");
    const path = q < 0 ? target : target.slice(0, q);
    if (path.startsWith(RESERVED_PREFIX)) return own(l, path, req, res);
    // Dot segments would let `/allowed/../other` past the allow-list and out of the API base path.
    if (/(^|\/)(\.|%2e){1,2}(\/|$)/i.test(path) || /%2f|%5c/i.test(path)) {
      return reject(l, res, req, 400, "bad_path", "Paths with . or .. segments or encoded slashes are not forwarded");
    }
    if (req.method === "CONNECT") return reject(l, res, req, 405, "method_not_allowed", "CONNECT is not proxied");
    if (!allowed(l.rules, req.method ?? "GET", path)) {
      return reject(l, res, req, 403, "not_allowed", `${req.method} ${path} is outside this proxy's allow-list`);
    }
    return forward(l, req, res, target);
  }

  function finished(l: Listener, req: IncomingMessage, started: number, status: number) {
    const seconds = (performance.now() - started) / 1000;
    const profile = l.target.name;
    metrics.inFlight.dec({ profile });
    metrics.duration.observe({ profile }, seconds);
    metrics.requests.inc({ profile, code_class: status === 499 ? "4xx" : statusClass(status) });
    if (log) {
      const target = redact(req.url ?? "/");
      log(`[hpauth] proxy ${profile}: ${req.method} ${target} → ${status} ${(seconds * 1000).toFixed(1)} ms`);
    }
    if (closing) for (const s of servers) s.closeIdleConnections();
    if (--inFlight === 0) drained?.();
  }

  function onRequest(l: Listener) {
    const profile = l.target.name;
    return (req: IncomingMessage, res: ServerResponse) => {
      const started = performance.now();
      metrics.inFlight.inc({ profile });
      inFlight++;
      handle(l, req, res).then(
        (status) => finished(l, req, started, status),
        (e: unknown) => {
          sendOwn(res, 500, { error: "internal", message: redact(String((e as Error)?.message ?? e)), profile });
          finished(l, req, started, 500);
        },
      );
    };
  }

  const listeners: Listener[] = [];
  const proxies: Record<string, ProxyEndpoint> = {};
  try {
    for (const target of options.targets) {
      const upstream = target.manager.apiUrl("/");
      const l: Listener = {
        target,
        upstream,
        upstreamOrigin: upstream.origin,
        upstreamPrefix: upstream.pathname.replace(/\/+$/, ""),

        rules: rulesFor(options.allow ?? [], target.name),
        dispatcher: target.dispatcher ?? dispatcher,
        hosts: new Set(),
        origin: "",
      };
      // No overall request deadline (node's default cuts a request at 300 s): a large upload may take longer.
      const server = createServer({ keepAliveTimeout: 5_000, requestTimeout: 0 }, onRequest(l));
      servers.push(server);
      const port = await new Promise<number>((resolve, reject) => {
        server.once("error", reject);
        server.listen(target.port ?? 0, host, () => {
          server.off("error", reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
      l.hosts = allowedHosts(host, port);
      const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : urlHost(host);
      l.origin = `http://${shown}:${port}`;
      listeners.push(l);
      proxies[target.name] = {
        url: l.origin,
        upstream: upstream.href.replace(/\/$/, ""),
        healthUrl: `${l.origin}${RESERVED_PREFIX}healthz`,
        metricsUrl: `${l.origin}${RESERVED_PREFIX}metrics`,
      };
    }
  } catch (e) {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (ownDispatcher) await dispatcher.close();
    throw e;
  }

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      closing = true;
      const stopped = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      for (const s of servers) s.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const s of servers) s.closeAllConnections();
      }, options.drainTimeoutMs ?? 30_000);
      timer.unref();
      if (inFlight > 0) await new Promise<void>((r) => (drained = r));
      for (const s of servers) s.closeIdleConnections();
      await stopped;
      clearTimeout(timer);
      if (ownDispatcher) await dispatcher.close();
    })();
    return closed;
  };
  return { proxies, metrics, close };
}

interface ForwardContext {
  token(l: Listener, rejected?: string): Promise<AccessToken>;
  tokenFailure(l: Listener, e: unknown, req: IncomingMessage, res: ServerResponse): number;
  metrics: ProxyMetrics;
}

/**
 * One request forwarded: up to two upstream attempts (the second after a token refusal, with a renewed token), the
 * answer written straight from undici's handler callbacks into the node:http response (no intermediate stream),
 * with backpressure (the upstream is paused while the caller's socket is full), and settled when the response
 * closes — finished, or cut by the caller (then the upstream request is aborted: 499).
 */
class Forward {
  readonly done: Promise<number>;
  #resolve!: (status: number) => void;
  /** The request body: none, whole (replayable), or a stream (sent once). */
  #payload: Buffer | Readable | null = null;
  #replayable = true;
  #token = "";
  #attempt: Attempt | undefined;
  /** Status of the answer the caller gets (the upstream's, or the proxy's own). */
  status = 0;
  /** The caller closed the connection before the answer was complete. */
  gone = false;
  #settled = false;
  #drainHooked = false;

  constructor(
    readonly ctx: ForwardContext,
    readonly l: Listener,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly target: string,
  ) {
    this.done = new Promise((r) => {
      this.#resolve = r;
    });
    res.once("close", () => {
      if (!res.writableFinished) {
        this.gone = true;
        this.#attempt?.abort(new Error("the caller closed the connection"));
      }
      this.settle(this.gone ? 499 : this.status);
    });
  }

  settle(status: number): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve(status);
  }

  replayableBody(chunks: Buffer[]): void {
    this.#payload = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  }

  streamBody(body: Readable): void {
    this.#payload = body;
    this.#replayable = false;
  }

  /** Sends the request upstream with `token` (the first attempt holds back an answer that may refuse it). */
  send(token: string, retry = false): void {
    if (this.gone) return;
    this.#token = token;
    const a = new Attempt(this, !retry);
    this.#attempt = a;
    const l = this.l;
    l.dispatcher.dispatch(
      {
        origin: l.upstreamOrigin,
        path: l.upstreamPrefix + this.target,
        method: this.req.method as Dispatcher.HttpMethod,
        headers: upstreamRequestHeaders(this.req.headers, token),
        body: this.#payload,
      },
      a,
    );
  }

  countUpstream(status: number): void {
    this.ctx.metrics.upstream.inc({ profile: this.l.target.name, code_class: statusClass(status) });
  }

  head(status: number, headers: IncomingHttpHeaders): void {
    this.status = status;
    this.res.writeHead(status, downstreamResponseHeaders(headers));
  }

  write(chunk: Buffer, controller: Dispatcher.DispatchController): void {
    if (this.res.write(chunk)) return;
    controller.pause();
    if (!this.#drainHooked) {
      this.#drainHooked = true;
      this.res.on("drain", () => this.#attempt?.resume());
    }
  }

  end(): void {
    this.res.end();
  }

  /** The upstream failed (unreachable, reset, timeout): a 502/504 of our own, or a cut answer if one had begun. */
  fail(e: Error): void {
    if (this.gone) return;
    const profile = this.l.target.name;
    const code = (e as { code?: string }).code ?? "UPSTREAM_ERROR";
    this.ctx.metrics.upstreamErrors.inc({ profile, code });
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    const timeout = /TIMEOUT/.test(code);
    this.status = timeout ? 504 : 502;
    sendOwn(this.res, this.status, {
      error: timeout ? "upstream_timeout" : "upstream_unreachable",
      code,
      message: redact(`${this.l.upstreamOrigin}: ${(e as Error).message}`),
      profile,
    });
  }

  /** A held answer (400/401/403) is complete, or as much of it as the engine may read: does it refuse the token? */
  judge(a: Attempt, held: Held): void {
    this.#judge(a, held).catch((e: unknown) => {
      a.drop();
      this.fail(e instanceof Error ? e : new Error(String(e)));
    });
  }

  async #judge(a: Attempt, held: Held): Promise<void> {
    const probe = {
      status: held.status,
      clone: () => new Response(held.chunks.length > 0 ? Buffer.concat(held.chunks) : null),
    };
    const refused = await this.l.target.manager.isAuthFailure(probe);
    if (this.gone) return;
    if (refused && this.#replayable) {
      a.drop();
      let fresh: AccessToken;
      try {
        fresh = await this.ctx.token(this.l, this.#token);
      } catch (e) {
        this.status = this.ctx.tokenFailure(this.l, e, this.req, this.res);
        return;
      }
      this.ctx.metrics.retries.inc({ profile: this.l.target.name });
      // One retry, never a loop: whatever this answers is the caller's.
      this.send(fresh.accessToken, true);
      return;
    }
    if (refused) {
      // A streamed body is gone: the refusal goes back as it is, and the next request gets a renewed token.
      this.ctx.metrics.notReplayed.inc({ profile: this.l.target.name });
      this.ctx.token(this.l, this.#token).catch(() => {});
    }
    a.release();
  }
}

interface Held {
  status: number;
  headers: IncomingHttpHeaders;
  chunks: Buffer[];
  size: number;
  ended: boolean;
}

/** One upstream request: undici's handler (its public dispatch interface), writing into the Forward's response. */
class Attempt implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | null = null;
  #held: Held | null = null;
  #judging = false;
  /** This attempt's answer is not the caller's (refused token, retried): whatever else it delivers is ignored. */
  #dropped = false;

  constructor(
    readonly f: Forward,
    readonly hold: boolean,
  ) {}

  abort(reason: Error): void {
    this.#dropped = true;
    this.#controller?.abort(reason);
  }

  resume(): void {
    this.#controller?.resume();
  }

  drop(): void {
    const held = this.#held;
    this.#held = null;
    // A refusal that ended was read whole (the connection stays in the pool); one still coming is cut.
    if (held && !held.ended) this.abort(new Error("the token was refused"));
    this.#dropped = true;
  }

  /** Hands the held answer to the caller, and lets the rest flow. */
  release(): void {
    const held = this.#held;
    const c = this.#controller;
    if (!held || !c) return;
    this.#held = null;
    this.f.head(held.status, held.headers);
    for (const chunk of held.chunks) this.f.write(chunk, c);
    if (held.ended) this.f.end();
    else if (!this.f.gone) c.resume();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.f.gone || this.#dropped) controller.abort(new Error("the caller closed the connection"));
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (this.#dropped) return;
    this.f.countUpstream(statusCode);
    if (this.hold && AUTH_STATUSES.has(statusCode)) {
      this.#held = { status: statusCode, headers, chunks: [], size: 0, ended: false };
      return;
    }
    this.f.head(statusCode, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#dropped) return;
    const held = this.#held;
    if (held === null) {
      this.f.write(chunk, controller);
      return;
    }
    held.chunks.push(chunk);
    held.size += chunk.length;
    if (held.size > PROBE_LIMIT && !this.#judging) {
      // Enough for any verdict: the rest waits, paused, until the engine has read this.
      controller.pause();
      this.#judging = true;
      this.f.judge(this, held);
    }
  }

  onResponseEnd(): void {
    if (this.#dropped) return;
    const held = this.#held;
    if (held === null) {
      this.f.end();
      return;
    }
    held.ended = true;
    if (!this.#judging) {
      this.#judging = true;
      this.f.judge(this, held);
    }
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.#dropped) return;
    this.#held = null;
    this.f.fail(err);
  }
}
