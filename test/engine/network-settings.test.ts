/**
 * A profile's network as configured: which proxy setting is in force and where it came from, how a proxy is shown
 * (its password never), which NO_PROXY entry sends a host direct, and what a ca_file adds to the trusted CAs —
 * over real TLS to the emulator. Route decisions are checked against undici's own in test/engine/network.test.ts.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import type { HpauthError } from "../../src/engine/errors.js";
import { Network, parseProxy, showProxy } from "../../src/engine/network.js";
import { type ForwardProxy, startForwardProxy } from "../cli/network-helpers.js";

const fail = <T>(p: Promise<T>) =>
  p.then(
    () => expect.unreachable("expected a rejection"),
    (e: HpauthError) => e,
  );
const thrown = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e as HpauthError;
  }
  return expect.unreachable("expected a throw");
};

describe("parseProxy", () => {
  it("host:port is an http proxy; http and https URLs are taken as they are, any case", () => {
    expect(parseProxy("proxy.corp:3128", "HTTPS_PROXY").href).toBe("http://proxy.corp:3128/");
    expect(parseProxy("http://proxy.corp:3128", "x").href).toBe("http://proxy.corp:3128/");
    expect(parseProxy("https://proxy.corp:8443", "x").href).toBe("https://proxy.corp:8443/");
    expect(parseProxy("HTTP://Proxy.Corp:3128", "x").href).toBe("http://proxy.corp:3128/");
  });

  it("anything else is CONFIG_INVALID naming where it was set, with the fix", () => {
    const scheme = thrown(() => parseProxy("socks5://proxy:1080", "HTTPS_PROXY"));
    expect(scheme).toMatchObject({ code: "CONFIG_INVALID" });
    expect(scheme.message).toBe("HTTPS_PROXY: proxy scheme socks5: is not supported");
    expect(scheme.hint).toBe("Use an HTTP proxy: HTTPS_PROXY=http://host:port (or https://…).");
    const bad = thrown(() => parseProxy("http://[::1", "proxy"));
    expect(bad).toMatchObject({ code: "CONFIG_INVALID" });
    expect(bad.message).toBe('proxy: "http://[::1" is not a proxy URL');
    expect(bad.hint).toBe("Set proxy to http://host:port (or https://host:port for a proxy spoken to over TLS).");
  });
});

describe("showProxy", () => {
  it("masks a proxy's credentials, keeps the rest, without the trailing slash", () => {
    expect(showProxy(new URL("http://proxy.corp:3128/"))).toBe("http://proxy.corp:3128");
    expect(showProxy(new URL("http://alice:s3cret-pw@proxy.corp:3128"))).toBe("http://***@proxy.corp:3128");
    expect(showProxy(new URL("http://alice@proxy.corp:3128"))).toBe("http://***@proxy.corp:3128");
    expect(showProxy(new URL("http://:s3cret-pw@proxy.corp:3128"))).toBe("http://***@proxy.corp:3128");
    // Nor a credential in its query.
    expect(showProxy(new URL("http://proxy.corp:3128/?access_token=abcd1234efgh"))).toBe(
      "http://proxy.corp:3128/?access_token=[redacted]",
    );
    // The URL given is not changed.
    const u = new URL("http://alice:pw@proxy.corp:3128");
    showProxy(u);
    expect(u.password).toBe("pw");
  });
});

describe("Network settings", () => {
  it("the profile's proxy for both schemes; else the lower-case variable, then the upper-case one", () => {
    const own = new Network({ env: { HTTP_PROXY: "http://a:1", HTTPS_PROXY: "http://b:2" }, proxy: "p:3" }).settings();
    expect(own.http).toEqual({ url: new URL("http://p:3"), from: "proxy" });
    expect(own.https).toEqual({ url: new URL("http://p:3"), from: "proxy" });
    const env = new Network({
      env: { http_proxy: "http://a:1", HTTP_PROXY: "http://A:9", HTTPS_PROXY: "http://b:2" },
    }).settings();
    expect(env.http).toEqual({ url: new URL("http://a:1"), from: "http_proxy" });
    expect(env.https).toEqual({ url: new URL("http://b:2"), from: "HTTPS_PROXY" });
    const upper = new Network({ env: { HTTP_PROXY: "http://A:9" } }).settings();
    expect(upper.http?.from).toBe("HTTP_PROXY");
    // No https proxy: https targets take the http one.
    expect(upper.https?.from).toBe("HTTP_PROXY");
  });

  it("an empty variable means no proxy and hides the upper-case one, as in undici", () => {
    const s = new Network({ env: { http_proxy: "", HTTP_PROXY: "http://a:1", https_proxy: "" } }).settings();
    expect(s.http).toBeUndefined();
    expect(s.https).toBeUndefined();
    expect(new Network({ env: { http_proxy: "", HTTP_PROXY: "http://a:1" } }).proxied).toBe(false);
    // An empty profile proxy is no proxy: the environment's applies.
    expect(new Network({ env: { HTTPS_PROXY: "http://b:2" }, proxy: "" }).settings().https?.from).toBe("HTTPS_PROXY");
  });

  it("NO_PROXY and where it came from", () => {
    expect(new Network({ env: {} }).settings()).toEqual({ noProxy: "" });
    expect(new Network({ env: { no_proxy: "a.com", NO_PROXY: "b.com" } }).settings()).toEqual({
      noProxy: "a.com",
      noProxyFrom: "no_proxy",
    });
    expect(new Network({ env: { NO_PROXY: "b.com" } }).settings()).toMatchObject({
      noProxy: "b.com",
      noProxyFrom: "NO_PROXY",
    });
  });

  it("proxied: any proxy for any target", () => {
    expect(new Network({ env: {} }).proxied).toBe(false);
    expect(new Network({ env: { HTTP_PROXY: "http://a:1" } }).proxied).toBe(true);
    expect(new Network({ env: { HTTPS_PROXY: "http://a:1" } }).proxied).toBe(true);
    expect(new Network({ env: {}, proxy: "a:1" }).proxied).toBe(true);
  });

  it("a bad proxy setting is CONFIG_INVALID naming the variable, on every use", () => {
    const net = new Network({ env: { HTTPS_PROXY: "ftp://x:21" } });
    expect(() => net.settings()).toThrow(/^HTTPS_PROXY: proxy scheme ftp: is not supported$/);
    expect(() => net.route(new URL("https://x"))).toThrow(/HTTPS_PROXY/);
    expect(() => new Network({ env: { http_proxy: "http://[" } }).settings()).toThrow(/^http_proxy: /);
  });

  it("caFile: the profile's, an empty one being none", () => {
    expect(new Network({ env: {}, caFile: "/etc/ca.pem" }).caFile).toBe("/etc/ca.pem");
    expect(new Network({ env: {}, caFile: "" }).caFile).toBeUndefined();
    expect(new Network({ env: {} }).caFile).toBeUndefined();
  });
});

describe("Network.route", () => {
  const route = (noProxy: string, url: string, env: Record<string, string> = { HTTPS_PROXY: "http://p:1" }) =>
    new Network({ env: { HTTP_PROXY: "http://p:1", ...env, NO_PROXY: noProxy } }).route(new URL(url));

  it("without a proxy for the scheme: direct, no bypass to name", () => {
    expect(new Network({ env: { NO_PROXY: "x.com" } }).route(new URL("https://x.com"))).toEqual({});
    // An https proxy is not used for http targets.
    expect(new Network({ env: { HTTPS_PROXY: "http://p:1" } }).route(new URL("http://x.com"))).toEqual({});
  });

  it("http targets take the http proxy, https ones the https proxy", () => {
    const net = new Network({ env: { HTTP_PROXY: "http://h:1", HTTPS_PROXY: "http://s:2" } });
    expect(net.route(new URL("http://x.com")).proxy?.from).toBe("HTTP_PROXY");
    expect(net.route(new URL("https://x.com")).proxy?.from).toBe("HTTPS_PROXY");
  });

  it("a host or its subdomains, with or without a leading dot or *.; not a host that only ends the same", () => {
    expect(route("example.com", "https://example.com/x")).toEqual({ bypass: "example.com" });
    expect(route("example.com", "https://api.example.com/x")).toEqual({ bypass: "example.com" });
    expect(route(".example.com", "https://api.example.com")).toEqual({ bypass: ".example.com" });
    expect(route("*.example.com", "https://example.com")).toEqual({ bypass: "*.example.com" });
    expect(route("EXAMPLE.com", "https://Api.Example.COM")).toEqual({ bypass: "EXAMPLE.com" });
    expect(route("example.com", "https://notexample.com").proxy?.from).toBe("HTTPS_PROXY");
    expect(route("api.example.com", "https://example.com").proxy).toBeDefined();
  });

  it("an entry with a port matches that port only, the scheme's default port included", () => {
    expect(route("example.com:443", "https://example.com")).toEqual({ bypass: "example.com:443" });
    expect(route("example.com:443", "http://example.com").proxy).toBeDefined();
    expect(route("example.com:80", "http://example.com")).toEqual({ bypass: "example.com:80" });
    expect(route("example.com:80", "https://example.com").proxy).toBeDefined();
    expect(route("example.com:8443", "https://example.com:8443")).toEqual({ bypass: "example.com:8443" });
    expect(route("example.com:8443", "https://example.com:9443").proxy).toBeDefined();
    expect(route("127.0.0.1:8080", "http://127.0.0.1:8080/x")).toEqual({ bypass: "127.0.0.1:8080" });
  });

  it("entries separated by commas or spaces, the first that matches named; * alone means everything", () => {
    expect(route("a.com, b.com c.com,,d.com", "https://c.com")).toEqual({ bypass: "c.com" });
    expect(route("a.com, b.com c.com,,d.com", "https://d.com")).toEqual({ bypass: "d.com" });
    expect(route("a.com, b.com", "https://e.com").proxy).toBeDefined();
    expect(route("*", "https://anything.example")).toEqual({ bypass: "*" });
    expect(route(" , ", "https://x.com").proxy).toBeDefined();
  });

  it("an IPv6 literal keeps its brackets", () => {
    expect(route("[::1]", "http://[::1]:8080/")).toEqual({ bypass: "[::1]" });
    expect(route("[::1]:8080", "http://[::1]:8080/")).toEqual({ bypass: "[::1]:8080" });
  });
});

describe("ca_file", () => {
  let tls: Emulator;
  let dir: string;
  let url: URL;
  beforeAll(async () => {
    tls = await startEmulator({ tls: true });
    dir = await mkdtemp(join(tmpdir(), "hpauth-ca-"));
    url = new URL("/.well-known/ping", tls.providers.greenlake.baseUrl);
  });
  afterAll(async () => {
    await tls?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const file = async (name: string, text: string) => {
    const p = join(dir, name);
    await writeFile(p, text);
    return p;
  };
  const get = async (net: Network) => {
    try {
      const res = await net.fetch(url);
      await res.body?.cancel();
      return res.status;
    } finally {
      await net.close();
    }
  };

  it("no proxy and no ca_file: Node's fetch as it is, which does not trust the emulator's CA", async () => {
    const net = new Network({ env: {} });
    expect(await net.dispatcher()).toBeUndefined();
    await expect(get(net)).rejects.toThrow(/fetch failed/);
  });

  it("an https target through HTTPS_PROXY, an http one through HTTP_PROXY, when both are set", async () => {
    const [plain, secure] = await Promise.all([startForwardProxy(), startForwardProxy()]);
    try {
      const net = new Network({ env: { HTTP_PROXY: plain.url, HTTPS_PROXY: secure.url }, caFile: tls.caFile });
      expect(await get(net)).toBeGreaterThanOrEqual(200);
      expect(secure.log).toEqual([`CONNECT ${url.host}`]);
      expect(plain.log).toEqual([]);
    } finally {
      await Promise.all([plain.close(), secure.close()]);
    }
  });

  it("every certificate of the file is trusted, not only the first", async () => {
    const caFile = await file("two.pem", `${rootCertificates[0]}\n${tls.caPem}\n`);
    expect(await get(new Network({ env: {}, caFile }))).toBeGreaterThanOrEqual(200);
  });

  it("adds to NODE_EXTRA_CA_CERTS instead of replacing it", async () => {
    const other = await file("other.pem", `${rootCertificates[1]}\n`);
    expect(await get(new Network({ env: { NODE_EXTRA_CA_CERTS: tls.caFile }, caFile: other }))).toBeGreaterThanOrEqual(
      200,
    );
    // Without it, the other CA alone does not vouch for the emulator; an unreadable one is no CA at all.
    await expect(get(new Network({ env: {}, caFile: other }))).rejects.toThrow(/fetch failed/);
    await expect(
      get(new Network({ env: { NODE_EXTRA_CA_CERTS: join(dir, "missing.pem") }, caFile: other })),
    ).rejects.toThrow(/fetch failed/);
  });

  it("an unreadable file is CONFIG_INVALID naming it and why, for every request", async () => {
    const missing = join(dir, "nope.pem");
    const net = new Network({ env: {}, caFile: missing });
    const e = await fail(net.fetch(url));
    expect(e.code).toBe("CONFIG_INVALID");
    expect(e.message).toBe(`ca_file: cannot read ${missing} (ENOENT)`);
    expect(e.hint).toMatch(/^Set ca_file to the PEM file of the CA/);
    expect((e.cause as NodeJS.ErrnoException).code).toBe("ENOENT");
    expect((await fail(net.fetch(url))).message).toBe(e.message);
    await expect(net.close()).resolves.toBeUndefined();
  });

  it("a file without a PEM certificate is CONFIG_INVALID saying what it lacks", async () => {
    const der = await file("ca.der", "0\x82\x03not pem at all");
    const e = await fail(new Network({ env: {}, caFile: der }).fetch(url));
    expect(e.code).toBe("CONFIG_INVALID");
    expect(e.message).toBe(`ca_file: ${der} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    expect(e.hint).toContain("openssl x509");
  });
});

describe("through a proxy", () => {
  let proxy: ForwardProxy;
  let target: Server;
  let origin: string;
  beforeAll(async () => {
    proxy = await startForwardProxy();
    target = createServer((req, res) => res.end(`${req.method} ${req.url}`));
    await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
    origin = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await proxy?.close();
    await new Promise((r) => target?.close(r));
  });

  it("a plain http target is forwarded in absolute form, as forward proxies expect (no CONNECT tunnel)", async () => {
    const net = new Network({ env: { HTTP_PROXY: proxy.url } });
    proxy.log.length = 0;
    const res = await net.fetch(`${origin}/a?b=1`, { method: "POST", body: "x" });
    expect(await res.text()).toBe("POST /a?b=1");
    expect(proxy.log).toEqual([`POST ${origin}/a?b=1`]);
    await net.close();
  });

  it("close() closes the connections: the network is not used afterwards", async () => {
    const net = new Network({ env: { HTTP_PROXY: proxy.url } });
    await (await net.fetch(`${origin}/`)).text();
    await net.close();
    await expect(net.fetch(`${origin}/`)).rejects.toThrow();
    // A network that needed no dispatcher has nothing to close.
    const direct = new Network({ env: {} });
    await direct.close();
    expect(await (await direct.fetch(`${origin}/d`)).text()).toBe("GET /d");
  });
});
