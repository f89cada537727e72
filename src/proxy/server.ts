/**
 * `startProxy()`: one local reverse-proxy listener per profile. Every request gets the profile's token from its
 * TokenManager (`getToken()`: never one the engine knows is expired), goes upstream with the caller's credentials
 * and hop-by-hop headers removed, and streams both ways. A refused token (the engine's `isAuthFailure`) is handed to
 * `renewRejected` — one renewal for all requests that saw it — and the request is sent once more if it can be
 * replayed. No caching and no refresh logic here: the engine does both.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Dispatcher, EnvHttpProxyAgent } from "undici";
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

/** A request body read whole (≤ replayLimitBytes): it can be sent again after a token refusal. */
class ReplayableBody {
  constructor(readonly chunks: Buffer[]) {}
}

/**
 * `source.pipe(res)` (backpressure included) settled when the answer is sent or either side fails — what
 * stream.pipeline does, at a fraction of its per-call cost on the hot path of small API answers.
 */
function pipe(source: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (e: Error) => {
      source.destroy();
      res.destroy();
      reject(e);
    };
    source.once("error", fail);
    res.once("close", () => {
      if (res.writableFinished) resolve();
      else fail(new Error("the caller closed the connection"));
    });
    source.pipe(res);
  });
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
  const dispatcher =
    options.dispatcher ??
    new EnvHttpProxyAgent({
      keepAliveTimeout: 30_000,
      ...(env.HTTP_PROXY || env.http_proxy ? { httpProxy: env.HTTP_PROXY ?? env.http_proxy } : {}),
      ...(env.HTTPS_PROXY || env.https_proxy ? { httpsProxy: env.HTTPS_PROXY ?? env.https_proxy } : {}),
      ...(env.NO_PROXY !== undefined || env.no_proxy !== undefined ? { noProxy: env.NO_PROXY ?? env.no_proxy } : {}),
    });
  const metrics = new ProxyMetrics(options.processMetrics === false ? { processMetrics: false } : {});
  const log = options.log;
  const servers: Server[] = [];
  const inFlight = new Set<Promise<void>>();
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

  /** Sends one upstream request (rejects when the upstream cannot be reached). */
  async function send(
    l: Listener,
    req: IncomingMessage,
    path: string,
    accessToken: string,
    body: Buffer[] | Readable | undefined,
    signal: AbortSignal,
  ): Promise<Dispatcher.ResponseData> {
    const headers = upstreamRequestHeaders(req.headers, accessToken);
    return l.dispatcher.request({
      origin: l.upstream.origin,
      path,
      method: req.method as Dispatcher.HttpMethod,
      headers,
      body: Array.isArray(body) ? (body.length === 1 ? body[0] : Buffer.concat(body)) : (body ?? null),
      signal,
    });
  }

  async function forward(l: Listener, req: IncomingMessage, res: ServerResponse, target: string): Promise<number> {
    const profile = l.target.name;
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.on("close", onClose);
    try {
      // The body: none, small enough to buffer (then replayable), or streamed as it comes.
      let body: ReplayableBody | Readable | undefined;
      if (hasBody(req)) {
        const declared = Number(req.headers["content-length"]);
        if (Number.isFinite(declared) && declared > replayLimit) body = req;
        else {
          const { chunks, ended, rest } = await readPrefix(req, replayLimit);
          body = ended ? new ReplayableBody(chunks) : prefixed(chunks, rest);
        }
      }
      const payload = () => (body instanceof ReplayableBody ? body.chunks : body);

      let t: AccessToken;
      try {
        t = await token(l);
      } catch (e) {
        return tokenFailure(l, e, req, res);
      }
      const upstreamPath = `${l.upstream.pathname.replace(/\/+$/, "")}${target}`;
      let up = await send(l, req, upstreamPath, t.accessToken, payload(), abort.signal);
      metrics.upstream.inc({ profile, code_class: statusClass(up.statusCode) });
      const probe = probeFor(up);
      if (await l.target.manager.isAuthFailure(probe)) {
        if (body === undefined || body instanceof ReplayableBody) {
          up.body.dump().catch(() => {});
          let fresh: AccessToken;
          try {
            fresh = await token(l, t.accessToken);
          } catch (e) {
            return tokenFailure(l, e, req, res);
          }
          metrics.retries.inc({ profile });
          // One retry, never a loop: whatever this answers is the caller's.
          up = await send(l, req, upstreamPath, fresh.accessToken, payload(), abort.signal);
          metrics.upstream.inc({ profile, code_class: statusClass(up.statusCode) });
          return relay(up, undefined, res);
        }
        // A streamed body is gone: the refusal goes back as it is, and the next request gets a renewed token.
        metrics.notReplayed.inc({ profile });
        token(l, t.accessToken).catch(() => {});
      }
      return relay(up, probe.consumed(), res);
    } catch (e) {
      if (abort.signal.aborted) return 499; // the caller went away
      const code = (e as { code?: string }).code ?? "UPSTREAM_ERROR";
      metrics.upstreamErrors.inc({ profile, code });
      const timeout = /TIMEOUT/.test(code);
      sendOwn(res, timeout ? 504 : 502, {
        error: timeout ? "upstream_timeout" : "upstream_unreachable",
        code,
        message: redact(`${l.upstream.origin}: ${(e as Error).message}`),
        profile,
      });
      return timeout ? 504 : 502;
    } finally {
      res.off("close", onClose);
    }
  }

  function tokenFailure(l: Listener, e: unknown, req: IncomingMessage, res: ServerResponse): number {
    req.resume();
    const { body, retryAfter } = tokenErrorBody(e, l.target.name);
    metrics.tokenFailures.inc({ profile: l.target.name, code: String(body.code) });
    sendOwn(res, 502, body, retryAfter ? { "retry-after": retryAfter } : {});
    return 502;
  }

  async function relay(up: Dispatcher.ResponseData, read: ReturnType<ProbeFor["consumed"]>, res: ServerResponse) {
    res.writeHead(up.statusCode, downstreamResponseHeaders(up.headers));
    if (read) await pipeline(prefixed(read.chunks, read.rest), res);
    else await pipe(up.body, res);
    return up.statusCode;
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

  function onRequest(l: Listener) {
    const profile = l.target.name;
    return (req: IncomingMessage, res: ServerResponse) => {
      const started = performance.now();
      metrics.inFlight.inc({ profile });
      const p = handle(l, req, res)
        .catch((e: unknown) => {
          sendOwn(res, 500, { error: "internal", message: redact(String((e as Error)?.message ?? e)), profile });
          return 500;
        })
        .then((status) => {
          const seconds = (performance.now() - started) / 1000;
          metrics.inFlight.dec({ profile });
          metrics.duration.observe({ profile }, seconds);
          metrics.requests.inc({ profile, code_class: status === 499 ? "4xx" : statusClass(status) });
          if (log) {
            const target = redact(req.url ?? "/");
            log(`[hpauth] proxy ${profile}: ${req.method} ${target} → ${status} ${(seconds * 1000).toFixed(1)} ms`);
          }
          if (closing) for (const s of servers) s.closeIdleConnections();
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
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
      await Promise.all([...inFlight]);
      for (const s of servers) s.closeIdleConnections();
      await stopped;
      clearTimeout(timer);
      if (ownDispatcher) await dispatcher.close();
    })();
    return closed;
  };
  return { proxies, metrics, close };
}

/**
 * `isAuthFailure` takes a Response-like (`status`, `clone()`); the engine reads the body only for the provider
 * variants it knows (GreenLake's HPE_GL_ERROR 400/403). So the body is read — up to 64 KiB — only if the engine
 * asks; whatever was read is sent on to the caller ahead of the rest.
 */
function probeFor(up: Dispatcher.ResponseData) {
  let read: Promise<void> | undefined;
  const chunks: Buffer[] = [];
  let rest: AsyncIterator<Buffer> | undefined;
  const readSome = async () => {
    let size = 0;
    rest = up.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    while (size <= 64 * 1024) {
      const { value, done } = await rest.next();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  };
  return {
    status: up.statusCode,
    clone(): Response {
      read ??= readSome();
      const p = read;
      return new Response(
        new ReadableStream<Uint8Array>({
          async start(controller) {
            await p;
            for (const c of chunks) controller.enqueue(new Uint8Array(c));
            controller.close();
          },
        }),
      );
    },
    consumed(): { chunks: Buffer[]; rest: AsyncIterator<Buffer> } | undefined {
      return read && rest ? { chunks, rest } : undefined;
    },
  };
}
type ProbeFor = ReturnType<typeof probeFor>;
