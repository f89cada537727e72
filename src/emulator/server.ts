/**
 * startEmulator(): five origins (one per provider, documented paths at the root) plus the admin origin, all on
 * node:http, sharing one EmulatorState. Faults are applied here, before a route's handler runs.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createAdminClient, handleAdmin } from "./admin.js";
import type { Ctx, Env, ResolvedConfig, ResolvedCredentials, ResolvedLifetimes, Route } from "./context.js";
import {
  BodyTooLarge,
  type Headers,
  mediaType,
  parseForm,
  parseJsonObject,
  readBody,
  sendHtml,
  sendJson,
} from "./http.js";
import { newSigningKey } from "./jwt.js";
import { arubaRoutes } from "./providers/aruba.js";
import { glpRoutes } from "./providers/glp.js";
import { greenlakeRoutes } from "./providers/greenlake.js";
import { identityRoutes } from "./providers/identity.js";
import { techpulseRoutes } from "./providers/techpulse.js";
import { WXP_CLIENT_ID, wxpRoutes } from "./providers/wxp.js";
import { EmulatorState, type Fault, hex, opaque, uuid } from "./state.js";
import { makeTlsMaterial } from "./tls.js";
import {
  EMULATED_PROVIDERS,
  type EmulatedProvider,
  type Emulator,
  type EmulatorOptions,
  type EmulatorTlsOptions,
  type ProviderInfo,
} from "./types.js";

const DAY = 86_400;
export const DEFAULT_LIFETIMES: Record<EmulatedProvider, ResolvedLifetimes> = {
  techpulse: { accessSeconds: 1800, refreshSeconds: 365 * DAY, codeSeconds: 60 },
  wxp: { accessSeconds: 300, refreshSeconds: 1800, codeSeconds: 60 },
  greenlake: { accessSeconds: 7200, refreshSeconds: 0, codeSeconds: 60 },
  "aruba-central": { accessSeconds: 7200, refreshSeconds: 15 * DAY, codeSeconds: 300 },
  "hpe-identity": { accessSeconds: 3599, refreshSeconds: 0, codeSeconds: 60 },
  // GLP personal API clients: 15 minutes (developer.arubanetworks.com/new-central; pycentral docs).
  "greenlake-platform": { accessSeconds: 900, refreshSeconds: 0, codeSeconds: 60 },
};

/** Loopback redirect URIs registered for the demo TechPulse app; loopback ones match any port (RFC 8252 §7.3). */
export const DEFAULT_REDIRECT_URIS = [
  "http://localhost",
  "http://localhost/callback",
  "http://127.0.0.1/callback",
  "http://[::1]/callback",
];

const DEMO_USER = "demo.user@example.com";
/** Demo passwords carry characters that break a client which forgets to encode form or JSON values. */
const password = () => `${opaque(16)}&+=%`;

const NO_WORKSPACE = { workspaceId: "", tenantWorkspaceIds: [] as string[] };

function defaultCredentials(): Record<EmulatedProvider, ResolvedCredentials> {
  return {
    "greenlake-platform": {
      clientId: uuid(),
      clientSecret: hex(16),
      username: "",
      password: "",
      customerId: "",
      redirectUris: [],
      // Workspace ids as GreenLake shows them: 32 hex digits. The client's workspace is an MSP with two tenants.
      workspaceId: hex(16),
      tenantWorkspaceIds: [hex(16), hex(16)],
    },
    techpulse: {
      clientId: opaque(32),
      clientSecret: opaque(32),
      username: DEMO_USER,
      password: password(),
      customerId: "",
      redirectUris: DEFAULT_REDIRECT_URIS,
      ...NO_WORKSPACE,
    },
    wxp: {
      clientId: WXP_CLIENT_ID,
      clientSecret: "",
      username: DEMO_USER,
      password: password(),
      customerId: "",
      redirectUris: [],
      ...NO_WORKSPACE,
    },
    greenlake: {
      clientId: uuid(),
      clientSecret: hex(16),
      username: DEMO_USER,
      password: "",
      customerId: hex(16),
      redirectUris: [],
      ...NO_WORKSPACE,
    },
    "aruba-central": {
      clientId: opaque(32),
      clientSecret: opaque(32),
      username: DEMO_USER,
      password: password(),
      customerId: hex(16),
      redirectUris: [],
      ...NO_WORKSPACE,
    },
    "hpe-identity": {
      clientId: `demo-${opaque(12)}`,
      clientSecret: opaque(32),
      username: "",
      password: "",
      customerId: "",
      redirectUris: [],
      ...NO_WORKSPACE,
    },
  };
}

/** Which credentials each provider's ready-line entry carries. */
const SHOWN: Record<EmulatedProvider, (keyof ProviderInfo)[]> = {
  techpulse: ["clientId", "clientSecret", "username", "password", "redirectUri"],
  wxp: ["clientId", "username", "password"],
  greenlake: ["clientId", "clientSecret"],
  "aruba-central": ["clientId", "clientSecret", "username", "password", "customerId"],
  "hpe-identity": ["clientId", "clientSecret"],
  "greenlake-platform": ["clientId", "clientSecret", "workspaceId"],
};

export function resolveConfig(options: EmulatorOptions): ResolvedConfig {
  const creds = defaultCredentials();
  const life = structuredClone(DEFAULT_LIFETIMES);
  for (const p of EMULATED_PROVIDERS) {
    const given = options.credentials?.[p];
    if (given) {
      for (const [k, v] of Object.entries(given))
        if (v !== undefined) (creds[p] as unknown as Record<string, unknown>)[k] = v;
    }
    const l = options.lifetimes?.[p];
    if (l) {
      for (const [k, v] of Object.entries(l)) {
        if (v === undefined) continue;
        if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
          throw new TypeError(`lifetimes.${p}.${k} must be a positive number of seconds`);
        (life[p] as unknown as Record<string, number>)[k] = v;
      }
    }
  }
  const positive = (v: number | undefined, dflt: number, name: string) => {
    if (v === undefined) return dflt;
    if (!Number.isFinite(v) || v < 0) throw new TypeError(`${name} must be a number ≥ 0`);
    return v;
  };
  return {
    creds,
    life,
    bodyLimitBytes: positive(options.bodyLimitBytes, 64 * 1024, "bodyLimitBytes"),
    techpulseExpiresInMillis: options.techpulseExpiresInMillis ?? false,
    techpulseLatestTokenOnly: options.techpulseLatestTokenOnly ?? true,
    revokeFamilyOnRefreshReuse: options.revokeFamilyOnRefreshReuse ?? false,
    arubaNewTokenIntervalSeconds: positive(options.arubaNewTokenIntervalSeconds, 1800, "arubaNewTokenIntervalSeconds"),
    arubaApiPerDay: positive(options.arubaApiPerDay, 5000, "arubaApiPerDay"),
    arubaApiPerSecond: positive(options.arubaApiPerSecond, 7, "arubaApiPerSecond"),
    baseUrls: Object.fromEntries(EMULATED_PROVIDERS.map((p) => [p, ""])) as Record<EmulatedProvider, string>,
  };
}

const ROUTES: Record<EmulatedProvider, (env: Env) => Route[]> = {
  techpulse: techpulseRoutes,
  wxp: wxpRoutes,
  greenlake: greenlakeRoutes,
  "aruba-central": arubaRoutes,
  "hpe-identity": identityRoutes,
  "greenlake-platform": glpRoutes,
};

/**
 * Every value a request carries that could be a secret: the Authorization header (and a Basic header's decoded
 * `id:secret`), Cookie, X-CSRF-Token, every query, form and JSON body value. What a careless service puts in its
 * error body (HPE Identity echoes the whole token in its 401s): the `echo` fault returns these, bare and by name.
 */
function echoedValues(req: IncomingMessage, url: URL, body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  const auth = req.headers.authorization;
  if (auth) {
    out.authorization = auth;
    const basic = /^Basic\s+(\S+)/i.exec(auth);
    if (basic?.[1]) out.authorization_decoded = Buffer.from(basic[1], "base64").toString("utf8");
  }
  if (req.headers.cookie) out.cookie = req.headers.cookie;
  const csrf = req.headers["x-csrf-token"];
  if (typeof csrf === "string") out["x-csrf-token"] = csrf;
  for (const [k, v] of url.searchParams) out[`query.${k}`] = v;
  const type = mediaType(req);
  if (type === "application/x-www-form-urlencoded") for (const [k, v] of parseForm(body)) out[`form.${k}`] = v;
  else if (type === "application/json") {
    for (const [k, v] of Object.entries(parseJsonObject(body) ?? {})) {
      out[`json.${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    }
  }
  return out;
}

/** Answers a fault; false for `delay`, after which the request goes on normally. */
async function applyFault(
  fault: Fault,
  res: ServerResponse,
  closing: AbortSignal,
  request: { req: IncomingMessage; url: URL; body: Buffer },
): Promise<boolean> {
  switch (fault.type) {
    case "echo": {
      const echoed = echoedValues(request.req, request.url, request.body);
      const status = fault.status ?? 401;
      sendJson(res, status, {
        error: status === 401 ? "invalid_token" : "invalid_request",
        // Bare values first (only a redactor that knows them can catch these), then each by name.
        error_description: `Rejected: ${Object.values(echoed).join(" ")}`,
        request: echoed,
      });
      return true;
    }
    case "delay":
      await sleep(fault.delayMs ?? 1000, undefined, { signal: closing });
      return false;
    case "drop":
      res.socket?.destroy();
      return true;
    case "status": {
      const status = fault.status ?? 500;
      const headers: Headers = fault.retryAfter !== undefined ? { "retry-after": fault.retryAfter } : {};
      sendJson(
        res,
        status,
        {
          error: status === 429 ? "too_many_requests" : "server_error",
          error_description: `Injected fault: HTTP ${status}`,
        },
        headers,
      );
      return true;
    }
    case "malformed": {
      const text = "{access_token: eyJhbGciOi, token_type: 'Bearer', expires_in: }";
      res.writeHead(fault.status ?? 200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
      });
      res.end(text);
      return true;
    }
    case "truncated": {
      // Headers promise the whole body; the connection dies halfway through it.
      const full = JSON.stringify({
        access_token: `eyJhbGciOiJSUzI1NiJ9.${opaque(200)}`,
        token_type: "Bearer",
        expires_in: 3600,
      });
      res.writeHead(fault.status ?? 200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(full),
      });
      res.write(full.slice(0, Math.floor(full.length / 2)), () => res.socket?.destroy());
      return true;
    }
    case "html": {
      const status = fault.status ?? 502;
      sendHtml(
        res,
        status,
        `<!DOCTYPE html><html><head><title>${status} Bad Gateway</title></head><body><center><h1>${status} Bad Gateway</h1></center><hr><center>nginx</center></body></html>`,
        fault.retryAfter !== undefined ? { "retry-after": fault.retryAfter } : {},
      );
      return true;
    }
  }
}

function providerHandler(provider: EmulatedProvider, env: Env, closing: AbortSignal, log?: (line: string) => void) {
  const routes = ROUTES[provider](env);
  const { state, config } = env;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    // The Date header is the emulator's clock, as a real server's is its own: moving the clock is a skewed server.
    res.setHeader("date", new Date(state.now()).toUTCString());
    const url = new URL(req.url ?? "/", "http://emulator.invalid");
    let refusal: string | undefined;
    let faulted: string | undefined;
    res.on("finish", () => {
      // Paths only: query strings carry secrets (Aruba's refresh sends client_secret and refresh_token there).
      log?.(
        `${provider} ${req.method} ${url.pathname} → ${res.statusCode}${refusal ? ` (${refusal})` : ""}${faulted ? ` [fault: ${faulted}]` : ""} ${Date.now() - started} ms`,
      );
    });
    const onPath = routes.filter((r) =>
      typeof r.path === "string" ? r.path === url.pathname : r.path.test(url.pathname),
    );
    if (onPath.length === 0) {
      req.resume();
      return sendJson(res, 404, { error: "not_found", error_description: `No resource at ${url.pathname}` });
    }
    const route = onPath.find((r) => r.method === req.method);
    if (!route) {
      req.resume();
      state.refuse(provider, "method_not_allowed");
      refusal = "method_not_allowed";
      return sendJson(
        res,
        405,
        {
          error: "invalid_request",
          error_description: `${req.method} is not allowed here; use ${onPath.map((r) => r.method).join(", ")}`,
        },
        { allow: onPath.map((r) => r.method).join(", ") },
      );
    }
    if (route.counts) state.count(provider, route.counts);
    let body: Buffer = Buffer.alloc(0);
    try {
      if (!route.streamsBody) body = await readBody(req, config.bodyLimitBytes);
    } catch (e) {
      if (!(e instanceof BodyTooLarge)) return; // the client went away
      state.refuse(provider, "body_too_large");
      refusal = "body_too_large";
      return sendJson(
        res,
        413,
        { error: "invalid_request", error_description: `Request body larger than ${config.bodyLimitBytes} bytes` },
        { connection: "close" },
      );
    }
    const fault = state.takeFault(provider, route.endpoints);
    if (fault) {
      faulted = fault.type;
      if (await applyFault(fault, res, closing, { req, url, body })) {
        if (route.streamsBody) req.resume();
        return;
      }
    }
    const ctx: Ctx = {
      ...env,
      provider,
      req,
      res,
      url,
      body,
      refuse(reason, status, payload, headers) {
        refusal = reason;
        state.refuse(provider, reason);
        sendJson(res, status, payload, headers);
      },
    };
    await route.handle(ctx);
    refusal ??= ctx.refusal;
  };
}

/** Wraps a handler so that nothing it throws can crash the process or leave a request hanging. */
function guarded(handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>, log?: (line: string) => void) {
  return (req: IncomingMessage, res: ServerResponse) => {
    handler(req, res).catch((e: unknown) => {
      if ((e as { name?: string })?.name === "AbortError") {
        res.socket?.destroy();
        return;
      }
      log?.(`internal error: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) sendJson(res, 500, { error: "server_error", error_description: "Internal emulator error" });
      else res.socket?.destroy();
    });
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function origin(host: string, port: number, scheme: "http" | "https" = "http"): string {
  const h = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  return `${scheme}://${h}:${port}`;
}

/** The names a TLS emulator's certificate covers by default: loopback in every spelling, and the bound host. */
function tlsHosts(host: string): string[] {
  const names = ["localhost", "127.0.0.1", "::1"];
  if (host !== "0.0.0.0" && host !== "::" && !names.includes(host)) names.push(host);
  return names;
}

/** The CA and server certificate of a TLS emulator, the CA written where clients can be pointed at it. */
async function tlsSetup(tls: true | EmulatorTlsOptions, host: string) {
  const o: EmulatorTlsOptions = tls === true ? {} : tls;
  const material = makeTlsMaterial({
    hosts: o.hosts ?? tlsHosts(host),
    ...(o.notBefore ? { notBefore: new Date(o.notBefore) } : {}),
    ...(o.notAfter ? { notAfter: new Date(o.notAfter) } : {}),
  });
  // The CA certificate is public: 0644 is fine; a directory of our own so close() removes just it.
  const dir = o.caFile ? undefined : await mkdtemp(join(tmpdir(), "hpauth-emulator-ca-"));
  const caFile = o.caFile ?? join(dir as string, "ca.pem");
  await writeFile(caFile, material.caPem, { mode: 0o644 });
  return { ...material, caFile, cleanup: () => (dir ? rm(dir, { recursive: true, force: true }) : Promise.resolve()) };
}

let keyCache: Promise<Env["keys"]> | undefined;
/**
 * RSA key generation costs hundreds of milliseconds on a small machine, so emulators in one process share their
 * key pairs (tokens still never cross: each emulator only honours tokens it issued itself).
 */
function signingKeys(): Promise<Env["keys"]> {
  keyCache ??= Promise.all([newSigningKey(), newSigningKey(), newSigningKey()]).then(([w, g, i]) => ({
    wxp: w,
    greenlake: g,
    "hpe-identity": i,
  }));
  return keyCache;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const host = options.host ?? "127.0.0.1";
  const basePort = options.port ?? 0;
  if (!Number.isInteger(basePort) || basePort < 0 || basePort > 65535 - EMULATED_PROVIDERS.length) {
    throw new RangeError(`port must be 0 or an integer up to ${65535 - EMULATED_PROVIDERS.length}`);
  }
  const config = resolveConfig(options);
  const state = new EmulatorState(options.now ?? Date.now);
  const env: Env = { state, config, keys: await signingKeys() };
  const closing = new AbortController();
  const log = options.log;

  const providers = {} as Record<EmulatedProvider, ProviderInfo>;
  const servers: Server[] = [];
  const tls = options.tls ? await tlsSetup(options.tls, host) : undefined;
  const closeAll = async () => {
    closing.abort();
    await tls?.cleanup();
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  };
  const index = () => ({ providers, adminUrl });
  let adminUrl = "";
  try {
    const adminServer = createServer(guarded((req, res) => handleAdmin(state, index, req, res), log));
    servers.push(adminServer);
    adminUrl = origin(host, await listen(adminServer, host, basePort));
    for (const [i, p] of EMULATED_PROVIDERS.entries()) {
      const handler = guarded(providerHandler(p, env, closing.signal, log), log);
      // With tls, the identity services and APIs speak HTTPS; the admin API stays plain HTTP (the harness's channel).
      const server = tls ? createTlsServer({ key: tls.keyPem, cert: tls.certPem }, handler) : createServer(handler);
      // Slow clients must not pin a socket forever; generous enough for the `delay` fault.
      server.requestTimeout = 120_000;
      servers.push(server);
      const port = await listen(server, host, basePort === 0 ? 0 : basePort + 1 + i);
      config.baseUrls[p] = origin(host, port, tls ? "https" : "http");
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  for (const p of EMULATED_PROVIDERS) {
    const c = config.creds[p];
    const info: ProviderInfo = { baseUrl: config.baseUrls[p] };
    for (const k of SHOWN[p]) {
      const v = k === "redirectUri" ? c.redirectUris[0] : (c as unknown as Record<string, string>)[k];
      if (v) (info as unknown as Record<string, string>)[k] = v;
    }
    providers[p] = info;
  }
  log?.(`emulator listening: admin ${adminUrl}`);
  let closed: Promise<void> | undefined;
  return {
    providers,
    adminUrl,
    jwksUrls: {
      wxp: `${config.baseUrls.wxp}/.well-known/jwks.json`,
      greenlake: `${config.baseUrls.greenlake}/pf/JWKS`,
      "hpe-identity": `${config.baseUrls["hpe-identity"]}/.well-known/jwks.json`,
      // GLP tokens are signed by the SSO's key (the same PingFederate as DSCC's).
      "greenlake-platform": `${config.baseUrls.greenlake}/pf/JWKS`,
    },
    ...(tls ? { caFile: tls.caFile, caPem: tls.caPem } : {}),
    admin: createAdminClient(adminUrl),
    close: () => {
      closed ??= closeAll();
      return closed;
    },
  };
}
