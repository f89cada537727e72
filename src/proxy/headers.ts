/**
 * Which request headers cross the proxy, and which Host names a listener answers to. Kept apart from the forwarding
 * code because both are security rules worth reading on their own.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { networkInterfaces, hostname as osHostname } from "node:os";

/** Hop-by-hop fields of RFC 9110 §7.6.1 (plus the legacy Proxy-Connection): dropped in both directions. */
const HOP_BY_HOP = ["connection", "proxy-connection", "keep-alive", "te", "transfer-encoding", "upgrade"];

/**
 * Never forwarded upstream: hop-by-hop fields (RFC 9110 §7.6.1: Connection and the fields it names,
 * Proxy-Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade), the caller's own credentials (Authorization,
 * Cookie — the proxy's token replaces them; Proxy-Authorization is for this hop only), Host (set from the upstream),
 * and Expect (node:http already answered `100-continue`; undici refuses the field).
 */
const REQUEST_DROP = new Set([
  ...HOP_BY_HOP,
  "host",
  "authorization",
  "proxy-authorization",
  "cookie",
  "expect",
  "http2-settings",
]);

/**
 * Never passed back to the caller: hop-by-hop fields, and Set-Cookie — the caller's cookies are never forwarded, so
 * a cookie the API sets could only pile up, unused, in a browser's jar for 127.0.0.1.
 */
const RESPONSE_DROP = new Set([...HOP_BY_HOP, "proxy-authenticate", "trailer", "set-cookie"]);

/** The Connection values nearly every message carries, parsed once. */
const COMMON_CONNECTION = new Map([
  ["keep-alive", new Set(["keep-alive"])],
  ["close", new Set(["close"])],
]);

/** Field names listed in Connection (RFC 9110 §7.6.1: they are hop-by-hop too). */
function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (!value) return undefined;
  if (typeof value === "string") {
    const common = COMMON_CONNECTION.get(value);
    if (common) return common;
  }
  const names = (Array.isArray(value) ? value.join(",") : value)
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  return names.length > 0 ? new Set(names) : undefined;
}

/** The request headers to send upstream, the Bearer token added and a Via entry for this gateway (§7.6.3). */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, accessToken: string): Record<string, string> {
  const listed = connectionListed(incoming.connection);
  const out: Record<string, string> = {};
  for (const name of Object.keys(incoming)) {
    const value = incoming[name];
    if (value === undefined || REQUEST_DROP.has(name) || listed?.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  out.via = out.via ? `${out.via}, 1.1 hpauth` : "1.1 hpauth";
  out.authorization = `Bearer ${accessToken}`;
  return out;
}

/** The upstream response's headers as the caller gets them. */
export function downstreamResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
): OutgoingHttpHeaders {
  const listed = connectionListed(upstream.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(upstream)) {
    const value = upstream[name];
    if (value === undefined || RESPONSE_DROP.has(name) || listed?.has(name)) continue;
    out[name] = value;
  }
  return out;
}

export const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"] as const;

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** A host as it appears in a URL or a Host header (IPv6 in brackets). */
export function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/**
 * The Host header values a listener accepts: the loopback names with its port (DNS rebinding defence — a page on
 * evil.example that rebinds its name to 127.0.0.1 still sends `Host: evil.example`). A listener bound to another
 * address (`--allow-remote`) also accepts that address, and for a wildcard bind this machine's interface addresses
 * and host name.
 */
export function allowedHosts(bindHost: string, port: number): Set<string> {
  const names = new Set<string>(LOOPBACK_NAMES);
  if (!isLoopbackHost(bindHost)) {
    if (bindHost === "0.0.0.0" || bindHost === "::") {
      names.add(osHostname().toLowerCase());
      for (const list of Object.values(networkInterfaces()))
        for (const a of list ?? []) names.add(urlHost(a.address.replace(/%.*$/, "")).toLowerCase());
    } else names.add(urlHost(bindHost).toLowerCase());
  }
  const out = new Set<string>();
  for (const n of names) {
    out.add(`${n}:${port}`);
    if (port === 80) out.add(n);
  }
  return out;
}
