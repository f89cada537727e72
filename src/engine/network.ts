/**
 * The network a profile's requests take: the proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment, or
 * the profile's own `proxy`) and the certificate authorities trusted (Node's, NODE_EXTRA_CA_CERTS, and the
 * profile's `ca_file`). Requests go through Node's fetch with an undici `EnvHttpProxyAgent` as dispatcher: NO_PROXY
 * decides which hosts go direct, an https target goes through a CONNECT tunnel, a plain http one (loopback only:
 * profiles refuse http:// elsewhere) is forwarded in absolute form. When no proxy and no ca_file is configured,
 * Node's fetch runs as it is and undici is never loaded.
 *
 * `route()` says which way a URL goes, for messages and `hpauth doctor`. It follows EnvHttpProxyAgent's own rules
 * (undici lib/dispatcher/env-http-proxy-agent.js: lower-case variables first; an https target without an https
 * proxy uses the http one; NO_PROXY entries match a host or its subdomains, optionally with a port, `*` matches
 * all); undici keeps that logic private, so it is restated here and test/engine/network.test.ts checks the two agree.
 */
import { readFile } from "node:fs/promises";
import { createSecureContext, rootCertificates } from "node:tls";
import type { Dispatcher } from "undici";
import { HpauthError } from "./errors.js";
import { redact } from "./redact.js";

export interface NetworkOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** The profile's `proxy`: used for http and https targets instead of HTTP(S)_PROXY; NO_PROXY still applies. */
  proxy?: string;
  /** The profile's `ca_file`: PEM certificates trusted in addition to Node's and NODE_EXTRA_CA_CERTS. */
  caFile?: string;
}

/** A proxy and where its setting came from ("proxy" for the profile field, else the variable's name). */
export interface ProxySetting {
  url: URL;
  from: string;
}

/** Which way a request to a URL goes. */
export interface Route {
  /** Through this proxy; absent: direct. */
  proxy?: ProxySetting;
  /** Direct because of this NO_PROXY entry (absent when no proxy is configured at all). */
  bypass?: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** A proxy URL as printed: credentials masked (a proxy password is a secret). */
export function showProxy(url: URL): string {
  const u = new URL(url.href);
  if (u.username || u.password) {
    u.username = "***";
    u.password = "";
  }
  return redact(u.href.replace(/\/$/, ""));
}

/** A proxy setting as a URL (`host:port` taken as http://); CONFIG_INVALID naming `from` when it is none. */
export function parseProxy(value: string, from: string): URL {
  // curl and most tools take `proxy.corp:3128` as http://proxy.corp:3128.
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new HpauthError("CONFIG_INVALID", `${from}: "${redact(value)}" is not a proxy URL`, {
      hint: `Set ${from} to http://host:port (or https://host:port for a proxy spoken to over TLS).`,
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new HpauthError("CONFIG_INVALID", `${from}: proxy scheme ${url.protocol} is not supported`, {
      hint: `Use an HTTP proxy: ${from}=http://host:port (or https://…).`,
    });
  }
  return url;
}

export class Network {
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #caFile: string | undefined;
  readonly #profileProxy: string | undefined;
  #settings?: { http?: ProxySetting; https?: ProxySetting; noProxy: string; noProxyFrom?: string };
  #dispatcher?: Promise<Dispatcher | undefined>;

  constructor(options: NetworkOptions) {
    this.#env = options.env;
    this.#caFile = options.caFile || undefined;
    this.#profileProxy = options.proxy || undefined;
  }

  /** The proxies and NO_PROXY in force (throws CONFIG_INVALID for a proxy setting that is not a URL). */
  settings(): { http?: ProxySetting; https?: ProxySetting; noProxy: string; noProxyFrom?: string } {
    if (this.#settings) return this.#settings;
    const env = this.#env;
    const pick = (...names: string[]) => {
      for (const n of names) {
        const v = env[n];
        if (v !== undefined) return v ? { value: v, from: n } : undefined;
      }
      return undefined;
    };
    const own = this.#profileProxy ? { value: this.#profileProxy, from: "proxy" } : undefined;
    const http = own ?? pick("http_proxy", "HTTP_PROXY");
    const https = own ?? pick("https_proxy", "HTTPS_PROXY") ?? http;
    const noProxy = pick("no_proxy", "NO_PROXY");
    const s: { http?: ProxySetting; https?: ProxySetting; noProxy: string; noProxyFrom?: string } = {
      noProxy: noProxy?.value ?? "",
    };
    if (noProxy) s.noProxyFrom = noProxy.from;
    if (http) s.http = { url: parseProxy(http.value, http.from), from: http.from };
    if (https) s.https = { url: parseProxy(https.value, https.from), from: https.from };
    this.#settings = s;
    return s;
  }

  /** Whether any proxy is configured (for any target). */
  get proxied(): boolean {
    const s = this.settings();
    return !!(s.http || s.https);
  }

  get caFile(): string | undefined {
    return this.#caFile;
  }

  /** Which way a request to `url` goes (EnvHttpProxyAgent's rules; see the file comment). */
  route(url: URL): Route {
    const s = this.settings();
    const proxy = url.protocol === "https:" ? s.https : s.http;
    if (!proxy) return {};
    const hostname = url.host.replace(/:\d*$/, "").toLowerCase();
    const port = Number.parseInt(url.port, 10) || (url.protocol === "https:" ? 443 : 80);
    const entries = s.noProxy.split(/[,\s]/).filter(Boolean);
    if (entries.length === 0) return { proxy };
    if (s.noProxy === "*") return { bypass: "*" };
    for (const entry of entries) {
      const m = /^(.+):(\d+)$/.exec(entry);
      const host = (m ? (m[1] as string) : entry).replace(/^\*?\./, "").toLowerCase();
      const entryPort = m ? Number.parseInt(m[2] as string, 10) : 0;
      if (entryPort && entryPort !== port) continue;
      if (hostname === host || hostname.endsWith(`.${host}`)) return { bypass: entry };
    }
    return { proxy };
  }

  /** The CA certificates to trust when ca_file is set (else undefined: Node's default store). */
  async #ca(): Promise<string[] | undefined> {
    const file = this.#caFile;
    if (!file) return undefined;
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      throw new HpauthError("CONFIG_INVALID", `ca_file: cannot read ${file} (${(e as NodeJS.ErrnoException).code})`, {
        hint: "Set ca_file to the PEM file of the CA that signs the service's (or your TLS-inspecting proxy's) certificates.",
        cause: e,
      });
    }
    const certs = text.match(PEM_CERT);
    if (!certs) {
      throw new HpauthError(
        "CONFIG_INVALID",
        `ca_file: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
        {
          hint: "Export the CA certificate as PEM (openssl x509 -in ca.der -inform der -out ca.pem).",
        },
      );
    }
    // An explicit CA list replaces Node's store, NODE_EXTRA_CA_CERTS included: both are added back, so ca_file adds.
    const extra = this.#env.NODE_EXTRA_CA_CERTS;
    const extraCerts = extra ? ((await readFile(extra, "utf8").catch(() => "")).match(PEM_CERT) ?? []) : [];
    return [...rootCertificates, ...extraCerts, ...certs];
  }

  /** The dispatcher requests take; undefined when Node's fetch needs none (no proxy, no ca_file). */
  dispatcher(): Promise<Dispatcher | undefined> {
    this.#dispatcher ??= (async () => {
      const s = this.settings();
      const ca = await this.#ca();
      if (!s.http && !s.https && !ca) return undefined;
      const undici = await import("undici");
      // A bundler's dynamic import of CommonJS may put the exports under `default` (esbuild does in the CLI). The
      // package entry, not lib/dispatcher/env-http-proxy-agent.js alone: the entry is what adds connect() and
      // request() to every dispatcher, which ProxyAgent's tunnel needs.
      const { EnvHttpProxyAgent } = (undici as unknown as { default?: typeof undici }).default ?? undici;
      // One secure context for every connection: given `ca`, each TLS connection would parse the whole list again
      // (Node's ~140 roots: tens of milliseconds per connection here).
      const tls = ca ? { secureContext: createSecureContext({ ca }) } : undefined;
      return new EnvHttpProxyAgent({
        // Explicit values (an empty string means none): EnvHttpProxyAgent would otherwise read process.env, and
        // the environment here is the injected one.
        httpProxy: s.http?.url.href ?? "",
        httpsProxy: s.https?.url.href ?? "",
        noProxy: s.noProxy,
        // Plain http targets in absolute form, as forward proxies expect; https always through CONNECT.
        proxyTunnel: false,
        ...(tls ? { connect: tls, requestTls: tls, proxyTls: tls } : {}),
      });
    })();
    // The settings cannot change while this Network lives: a failure (an unreadable ca_file) is every request's answer.
    return this.#dispatcher;
  }

  /** fetch through this network (Node's fetch; the dispatcher when one is needed). */
  readonly fetch: typeof globalThis.fetch = async (input, init) => {
    const dispatcher = await this.dispatcher();
    if (!dispatcher) return globalThis.fetch(input, init);
    // Node 20's fetch (undici 6) takes an undici 7 dispatcher: v7 dispatchers accept the older handler interface.
    return globalThis.fetch(input, { ...init, dispatcher } as unknown as RequestInit);
  };

  async close(): Promise<void> {
    const d = await this.#dispatcher?.catch(() => undefined);
    await d?.close();
  }
}
