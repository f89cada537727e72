/**
 * A request that never reaches the server, over real sockets, in process: the TLS emulator (a CA made for the run)
 * with a certificate from an unknown CA, for another host name, expired or not valid yet; a forward proxy that is
 * down, unknown, wants credentials (407, or 401 as tinyproxy answers wrong ones), forbids the host (403) or fails
 * (502); a proxy spoken to over TLS whose certificate is not trusted; no such host; nothing listening; a port the
 * Fetch standard blocks. Each asserts what the user sees: the code and exit code, the message naming the origin,
 * the proxy (never its password) and the profile field, the hint naming the fix, and how many attempts were made:
 * one when a retry cannot change the answer (a refused certificate, a proxy that says no), the policy's when it
 * can (refused, DNS, a failing proxy). `connectFailure` is also called directly for the failures loopback cannot
 * produce (an unreachable network) and for the shapes only `hpauth request` and `hpauth doctor` pass it.
 */
import { createServer, STATUS_CODES } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { connectFailure, networkCode, type SendOptions, send } from "../../src/engine/http.js";
import { Network } from "../../src/engine/network.js";
import { type ForwardProxy, startForwardProxy } from "../cli/network-helpers.js";
import { rejection, testContext } from "./http-context.js";

const DAY = 86_400_000;
const TOKEN: SendOptions = { what: "GreenLake token request", expectJson: true };
const REFRESH: SendOptions = { what: "Aruba token refresh", expectJson: true, once: "refresh" };
const PROXY_PASSWORD = "pr0xy-s3cret-pw";

/** A port nothing listens on (bound, then closed): a real ECONNREFUSED. */
async function closedPort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A proxy that answers every CONNECT with `status` (and logs it): a corporate proxy saying no. */
async function refusingProxy(status: number): Promise<ForwardProxy> {
  const log: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    log.push(`${req.method} ${req.url}`);
    res.writeHead(status).end();
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("connect", (req, socket: Socket) => {
    log.push(`CONNECT ${req.url}`);
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: 0\r\n\r\n`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe("a connection that fails before the request reaches the server", () => {
  // Started when a test first needs one (Stryker runs only the tests that reach a mutant: most need none or one).
  const make = {
    tls: () => startEmulator({ tls: true }),
    wrongName: () => startEmulator({ tls: { hosts: ["localhost"] } }),
    expired: () =>
      startEmulator({ tls: { notBefore: new Date(Date.now() - 2 * DAY), notAfter: new Date(Date.now() - DAY) } }),
    notYet: () =>
      startEmulator({ tls: { notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 2 * DAY) } }),
    proxy: () => startForwardProxy(),
    locked: () => startForwardProxy({ credentials: `alice:${PROXY_PASSWORD}` }),
  };
  type Made = { [K in keyof typeof make]: Awaited<ReturnType<(typeof make)[K]>> };
  const made: { [K in keyof Made]?: Promise<Made[K]> } = {};
  function use<K extends keyof Made>(name: K): Promise<Made[K]> {
    made[name] ??= make[name]() as Promise<Made[K]> as never;
    return made[name] as Promise<Made[K]>;
  }
  const nets: Network[] = [];
  afterAll(async () => {
    await Promise.all(nets.map((n) => n.close()));
    await Promise.all(Object.values(made).map(async (x) => (await x)?.close()));
  });

  const tokenUrl = (emu: Emulator) => new URL(`${emu.providers.greenlake.baseUrl}/as/token.oauth2`);

  /** A context whose requests go through `net` (its proxy and CAs), the URL field named `base_url`. */
  function through(net: Network, base?: URL) {
    nets.push(net);
    return testContext({
      fetch: net.fetch,
      route: (u) => net.route(u),
      ...(base ? { urlField: (u: URL) => (u.origin === base.origin ? "base_url" : undefined) } : {}),
      secrets: ["client-secret-value"],
    });
  }
  const post = { method: "POST", body: "grant_type=client_credentials" };

  describe("TLS: the certificate is refused, so it is said once, not retried", () => {
    it("a CA this machine does not trust: the hint names ca_file and NODE_EXTRA_CA_CERTS", async () => {
      const tls = await use("tls");
      const url = tokenUrl(tls);
      const t = through(new Network({ env: {} }), url);
      const err = await rejection(send(t.ctx, url, post, TOKEN));
      expect(err.code).toBe("NETWORK_ERROR");
      expect(err.exitCode).toBe(5);
      expect(err.message).toBe(
        `GreenLake token request: the TLS certificate of ${url.origin} is signed by a certificate authority this machine does not trust (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`,
      );
      expect(err.hint).toBe(
        "If the service or a TLS-inspecting proxy uses a private CA, set the profile's ca_file (or NODE_EXTRA_CA_CERTS) to that CA's PEM file; `hpauth doctor` checks it.",
      );
      expect(err.provider).toBe("greenlake");
      expect(err.profile).toBe("http-test");
      expect(t.calls()).toBe(1);
      expect(t.sleeps).toEqual([]);
      expect(t.events).toEqual([]);
    });

    it("the same through a proxy: the message names the proxy and the hint TLS inspection", async () => {
      const tls = await use("tls");
      const proxy = await use("proxy");
      const url = tokenUrl(tls);
      const t = through(new Network({ env: { HTTPS_PROXY: proxy.url } }), url);
      proxy.log.length = 0;
      const err = await rejection(send(t.ctx, url, post, TOKEN));
      expect(err.message).toBe(
        `GreenLake token request: the TLS certificate of ${url.origin} through the proxy ${proxy.url} (HTTPS_PROXY) is signed by a certificate authority this machine does not trust (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`,
      );
      expect(err.hint).toMatch(
        /^If the service or the proxy \(TLS inspection\) uses a private CA, set the profile's ca_file/,
      );
      expect(t.calls()).toBe(1);
      expect(proxy.log).toEqual([`CONNECT ${url.host}`]);
    });

    it("with the CA trusted (ca_file), the same request succeeds", async () => {
      const tls = await use("tls");
      const url = tokenUrl(tls);
      const p = tls.providers.greenlake;
      const t = through(new Network({ env: {}, caFile: tls.caFile ?? "" }), url);
      const res = await send(
        t.ctx,
        url,
        {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            grant_type: "client_credentials",
            client_id: p.clientId ?? "",
            client_secret: p.clientSecret ?? "",
          }).toString(),
        },
        TOKEN,
      );
      expect(res.status).toBe(200);
      expect((res.json as { token_type?: string }).token_type).toMatch(/^bearer$/i);
    });

    it("a certificate for another host name: names the host, the reason, the profile field and the fix", async () => {
      const wrongName = await use("wrongName");
      const url = tokenUrl(wrongName);
      const t = through(new Network({ env: {}, caFile: wrongName.caFile ?? "" }), url);
      const err = await rejection(send(t.ctx, url, post, TOKEN));
      expect(err.code).toBe("NETWORK_ERROR");
      expect(err.exitCode).toBe(5);
      expect(err.message).toMatch(
        new RegExp(
          `^GreenLake token request: the TLS certificate of ${url.origin.replace(/\./g, "\\.")} is not valid for the name 127\\.0\\.0\\.1: IP: 127\\.0\\.0\\.1 is not in the cert's list: ? — check base_url$`,
        ),
      );
      expect(err.hint).toBe(
        "Use the host name the certificate was issued for in the profile's base_url; a TLS-inspecting proxy must issue certificates for 127.0.0.1.",
      );
      expect(t.calls()).toBe(1);
    });

    it("another host name, with no profile field known for the URL: 'check the URL'", async () => {
      const wrongName = await use("wrongName");
      const url = tokenUrl(wrongName);
      const t = through(new Network({ env: {}, caFile: wrongName.caFile ?? "" }));
      const err = await rejection(send(t.ctx, url, post, TOKEN));
      expect(err.message).toMatch(/is not valid for the name 127\.0\.0\.1: .* — check the URL$/);
      expect(err.hint).toMatch(/^Use the host name the certificate was issued for in the profile's URL;/);
    });

    it("an expired certificate, and one not valid yet: the hint is the clock, then the certificate", async () => {
      const expired = await use("expired");
      const notYet = await use("notYet");
      for (const [emu, state, code] of [
        [expired, "has expired", "CERT_HAS_EXPIRED"],
        [notYet, "is not valid yet", "CERT_NOT_YET_VALID"],
      ] as const) {
        const url = tokenUrl(emu);
        const t = through(new Network({ env: {}, caFile: emu.caFile ?? "" }), url);
        const err = await rejection(send(t.ctx, url, post, TOKEN));
        expect(err.code).toBe("NETWORK_ERROR");
        expect(err.exitCode).toBe(5);
        expect(err.message).toBe(`GreenLake token request: the TLS certificate of ${url.origin} ${state} (${code})`);
        expect(err.hint).toBe(
          "Check this machine's clock (`hpauth doctor` shows its skew against the server); if the clock is right, the server's certificate needs renewing.",
        );
        expect(t.calls(), code).toBe(1);
      }
    });

    it("a refused certificate on a refresh is no lost answer: nothing was sent (NETWORK_ERROR, one attempt)", async () => {
      const tls = await use("tls");
      const url = tokenUrl(tls);
      const t = through(new Network({ env: {} }), url);
      const err = await rejection(send(t.ctx, url, post, REFRESH));
      expect(err.code).toBe("NETWORK_ERROR");
      expect(err.message).toMatch(/^Aruba token refresh: the TLS certificate of .* does not trust/);
      expect(t.calls()).toBe(1);
    });

    it("a proxy spoken to over TLS whose own certificate is not trusted: the TLS error inside undici's wrapper", async () => {
      const tls = await use("tls");
      // The TLS emulator's port as an https:// proxy: the handshake with the proxy fails before any CONNECT.
      const url = new URL("https://hpauth-target.invalid/as/token.oauth2");
      const viaTls = `https://127.0.0.1:${new URL(tls.providers.greenlake.baseUrl).port}`;
      const t = through(new Network({ env: { HTTPS_PROXY: viaTls } }));
      const err = await rejection(send(t.ctx, url, post, TOKEN));
      expect(err.code).toBe("NETWORK_ERROR");
      expect(err.message).toBe(
        `GreenLake token request: the TLS certificate of https://hpauth-target.invalid through the proxy ${viaTls} (HTTPS_PROXY) is signed by a certificate authority this machine does not trust (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`,
      );
      expect(err.hint).toMatch(/the proxy \(TLS inspection\)/);
      expect(t.calls()).toBe(1);
    });
  });

  describe("the proxy", () => {
    it("down (nothing listens on its port): names the proxy and its variable; retried, as it may come back", async () => {
      const tls = await use("tls");
      const port = await closedPort();
      const url = tokenUrl(tls);
      const t = through(new Network({ env: { HTTPS_PROXY: `http://127.0.0.1:${port}` }, caFile: tls.caFile ?? "" }));
      const err = await rejection(send(t.ctx, url, post, TOKEN));
      expect(err.code).toBe("NETWORK_ERROR");
      expect(err.exitCode).toBe(5);
      expect(err.message).toBe(
        `GreenLake token request: cannot connect to the proxy http://127.0.0.1:${port} (HTTPS_PROXY) to reach ${url.origin} (ECONNREFUSED) (gave up after 3 attempts)`,
      );
      expect(err.hint).toBe("Check HTTPS_PROXY; a host reachable without the proxy can go in NO_PROXY.");
      expect(t.calls()).toBe(3);
      expect(t.events.map((e) => [e.type, e.attempt, e.code])).toEqual([
        ["retry", 2, "NETWORK_ERROR"],
        ["retry", 3, "NETWORK_ERROR"],
      ]);
    });

    it("the profile's own proxy, down, with a password in its URL: the hint names the profile's proxy; no password shown", async () => {
      const tls = await use("tls");
      const proxy = await use("proxy");
      const port = await closedPort();
      const url = tokenUrl(tls);
      const t = through(
        new Network({
          env: { HTTPS_PROXY: proxy.url },
          proxy: `http://alice:${PROXY_PASSWORD}@127.0.0.1:${port}`,
          caFile: tls.caFile ?? "",
        }),
      );
      const err = await rejection(send(t.ctx, url, post, TOKEN));
      expect(err.message).toContain(
        `cannot connect to the proxy http://***@127.0.0.1:${port} (proxy) to reach ${url.origin}`,
      );
      expect(err.hint).toBe("Check the profile's proxy; a host reachable without the proxy can go in NO_PROXY.");
      expect(`${err.message} ${err.hint} ${JSON.stringify(t.events)}`).not.toContain(PROXY_PASSWORD);
    });

    it("a proxy host that does not resolve: said as the proxy's, not the service's", async () => {
      const tls = await use("tls");
      const url = tokenUrl(tls);
      const t = through(
        new Network({ env: { https_proxy: "http://hpauth-proxy.invalid:3128" }, caFile: tls.caFile ?? "" }),
        url,
      );
      const err = await rejection(send(t.ctx, url, post, TOKEN));
      expect(err.message).toMatch(
        /^GreenLake token request: cannot connect to the proxy http:\/\/hpauth-proxy\.invalid:3128 \(https_proxy\) to reach https:\/\/127\.0\.0\.1:\d+ \((ENOTFOUND|EAI_AGAIN)\)/,
      );
      expect(err.hint).toBe("Check https_proxy; a host reachable without the proxy can go in NO_PROXY.");
    });

    it("wanting credentials (407): explained, naming where they go; not retried", async () => {
      const tls = await use("tls");
      const locked = await use("locked");
      const url = tokenUrl(tls);
      const t = through(new Network({ env: { HTTPS_PROXY: locked.url }, caFile: tls.caFile ?? "" }), url);
      locked.log.length = 0;
      const err = await rejection(send(t.ctx, url, post, TOKEN));
      expect(err.code).toBe("NETWORK_ERROR");
      expect(err.exitCode).toBe(5);
      expect(err.message).toBe(
        `GreenLake token request: the proxy ${locked.url} (HTTPS_PROXY) refused to open a tunnel to ${url.host} (HTTP 407)`,
      );
      expect(err.hint).toBe(
        "The proxy wants credentials: put them in its URL in HTTPS_PROXY, before the host (user, a colon, the password, then @; URL-encoded), set from a secret store rather than a file others can read.",
      );
      expect(t.calls()).toBe(1);
      expect(locked.log).toEqual([`CONNECT ${url.host}`]);
    });

    it("wrong credentials in the profile's proxy: 407 again, the password masked, the hint names `proxy`", async () => {
      const tls = await use("tls");
      const locked = await use("locked");
      const url = tokenUrl(tls);
      const wrong = locked.url.replace("http://", `http://alice:${PROXY_PASSWORD}x@`);
      const t = through(new Network({ env: {}, proxy: wrong, caFile: tls.caFile ?? "" }), url);
      const err = await rejection(send(t.ctx, url, post, TOKEN));
      expect(err.message).toBe(
        `GreenLake token request: the proxy ${locked.url.replace("http://", "http://***@")} (proxy) refused to open a tunnel to ${url.host} (HTTP 407)`,
      );
      expect(err.hint).toMatch(/^The proxy wants credentials: put them in its URL in proxy, before the host/);
      expect(`${err.message} ${err.hint}`).not.toContain(PROXY_PASSWORD);
      expect(t.calls()).toBe(1);
    });

    it("with the right credentials, the same request goes through", async () => {
      const tls = await use("tls");
      const locked = await use("locked");
      const url = tokenUrl(tls);
      const right = locked.url.replace("http://", `http://alice:${PROXY_PASSWORD}@`);
      const t = through(new Network({ env: { HTTPS_PROXY: right }, caFile: tls.caFile ?? "" }), url);
      const res = await send(
        t.ctx,
        url,
        { method: "POST", body: "grant_type=client_credentials" },
        {
          ...TOKEN,
          expectJson: false,
        },
      );
      // No client credentials sent: the service's own refusal, through the tunnel.
      expect(res.status).toBe(400);
      expect(res.json).toHaveProperty("error");
    });

    it.each([
      [401, 1, /^The proxy wants credentials: put them in its URL in HTTPS_PROXY/],
      [
        403,
        1,
        /^The proxy does not let this host through: ask its administrators, or — if hpauth-target\.invalid is reachable directly — add it to NO_PROXY\.$/,
      ],
      [502, 3, /^The proxy does not let this host through/],
    ] as const)(
      "a proxy answering the CONNECT with %i: explained; retried only if it may pass",
      async (status, attempts, hint) => {
        const refusing = await refusingProxy(status);
        try {
          // No port in the URL: the tunnel target is the https default, 443.
          const url = new URL("https://hpauth-target.invalid/as/token.oauth2");
          const t = through(new Network({ env: { HTTPS_PROXY: refusing.url } }));
          const err = await rejection(send(t.ctx, url, post, REFRESH));
          expect(err.code).toBe("NETWORK_ERROR");
          expect(err.exitCode).toBe(5);
          expect(err.message).toMatch(
            new RegExp(
              `^Aruba token refresh: the proxy ${refusing.url} \\(HTTPS_PROXY\\) refused to open a tunnel to hpauth-target\\.invalid:443 \\(HTTP ${status}\\)`,
            ),
          );
          expect(err.hint).toMatch(hint);
          expect(t.calls()).toBe(attempts);
          expect(refusing.log).toEqual(Array(attempts).fill("CONNECT hpauth-target.invalid:443"));
        } finally {
          await refusing.close();
        }
      },
    );
  });

  describe("the service's own address", () => {
    it("nothing listens there: connection refused, naming the field; retried (the service may be starting)", async () => {
      const url = new URL(`http://127.0.0.1:${await closedPort()}/as/token.oauth2`);
      const t = testContext({ urlField: (u) => (u.origin === url.origin ? "base_url" : undefined) });
      const err = await rejection(send(t.ctx, url, post, REFRESH));
      expect(err.code).toBe("NETWORK_ERROR");
      expect(err.exitCode).toBe(5);
      expect(err.message).toBe(
        `Aruba token refresh: connection refused by ${url.origin} — check base_url (nothing listens there) (gave up after 3 attempts)`,
      );
      expect(err.hint).toBe(
        `Check the profile's base_url (${url.origin}): host and port, and that the service is running.`,
      );
      expect(t.calls()).toBe(3);
    });

    it("no such host: names the host and the DNS, and HTTPS_PROXY as the way out when there is no proxy", async () => {
      const url = new URL("https://hpauth-nowhere.invalid/as/token.oauth2");
      const t = testContext({ retry: { attempts: 2 } });
      const err = await rejection(send(t.ctx, url, post, TOKEN));
      expect(err.code).toBe("NETWORK_ERROR");
      expect(err.message).toMatch(
        /^GreenLake token request: cannot resolve the host hpauth-nowhere\.invalid \((ENOTFOUND|EAI_AGAIN)\) — check the URL \(gave up after 2 attempts\)$/,
      );
      expect(err.hint).toBe(
        "Check the profile's URL (https://hpauth-nowhere.invalid) for a typo, and the network's DNS (behind a corporate proxy: set HTTPS_PROXY).",
      );
      expect(t.calls()).toBe(2);
    });

    it("a port the Fetch standard blocks: said, with the fix, and not retried", async () => {
      const url = new URL("http://127.0.0.1:6000/as/token.oauth2");
      const t = testContext({ urlField: () => "base_url" });
      const err = await rejection(send(t.ctx, url, post, TOKEN));
      expect(err.code).toBe("NETWORK_ERROR");
      expect(err.exitCode).toBe(5);
      expect(err.message).toBe(
        "GreenLake token request: fetch refuses to connect to port 6000 of http://127.0.0.1:6000 (a port the Fetch standard blocks) — check base_url",
      );
      expect(err.hint).toBe("Use another port.");
      expect(err.provider).toBe("greenlake");
      expect(err.profile).toBe("http-test");
      expect(t.calls()).toBe(1);
      const bare = testContext();
      expect((await rejection(send(bare.ctx, url, post, TOKEN))).message).toMatch(/blocks\) — check the URL$/);
    });

    it("an unreadable ca_file is the network's own verdict: CONFIG_INVALID (exit 2) at once", async () => {
      // The file is read before any connection: no server needed.
      const url = new URL("https://127.0.0.1:1/as/token.oauth2");
      const t = through(new Network({ env: {}, caFile: "/nonexistent/hpauth-ca.pem" }));
      const err = await rejection(send(t.ctx, url, post, TOKEN));
      expect(err.code).toBe("CONFIG_INVALID");
      expect(err.exitCode).toBe(2);
      expect(err.message).toMatch(/^ca_file: cannot read \/nonexistent\/hpauth-ca\.pem \(ENOENT\)$/);
      expect(t.calls()).toBe(1);
      expect(t.events).toEqual([]);
    });
  });
});

describe("connectFailure: what hpauth request and hpauth doctor say for a connection failure", () => {
  const url = new URL("https://api.example.test/v1");
  const proxied = { proxy: { url: new URL("http://proxy.corp:3128"), from: "HTTPS_PROXY" } };
  /** An error as Node's fetch reports a socket failure: a TypeError whose cause carries the code. */
  const failed = (cause: Record<string, unknown>) => Object.assign(new TypeError("fetch failed"), { cause });

  it("a network that cannot be reached (cannot be made on loopback): direct, and through a proxy", () => {
    for (const code of ["EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "UND_ERR_CONNECT_TIMEOUT"]) {
      const direct = connectFailure(url, code, failed({ code }), { what: "API request", field: "api_base_url" });
      expect(direct).toEqual({
        message: `API request: cannot reach https://api.example.test (${code}) — check api_base_url, and the network or proxy`,
        hint: "If this network reaches the internet only through a proxy, set HTTPS_PROXY.",
      });
      const via = connectFailure(url, code, failed({ code }), { what: "API request", route: proxied });
      expect(via).toEqual({
        message: `API request: cannot reach https://api.example.test through the proxy http://proxy.corp:3128 (HTTPS_PROXY) (${code}) — check the URL, and the network or proxy`,
        hint: "Check HTTPS_PROXY; a host reachable without the proxy can go in NO_PROXY.",
      });
    }
  });

  it("a refusal or a DNS failure is the proxy's only when it names the proxy's port or host", () => {
    // The target's own port and host: about the target, even with a proxy configured.
    const target = connectFailure(
      url,
      "ECONNREFUSED",
      failed({ code: "ECONNREFUSED", port: 443, address: "10.0.0.1" }),
      {
        what: "API request",
        route: proxied,
      },
    );
    expect(target.message).toBe(
      "API request: connection refused by https://api.example.test — check the URL (nothing listens there)",
    );
    expect(target.hint).toBe(
      "Check the profile's URL (https://api.example.test): host and port, and that the service is running.",
    );
    const dns = connectFailure(url, "ENOTFOUND", failed({ code: "ENOTFOUND", hostname: "api.example.test" }), {
      what: "API request",
      field: "api_base_url",
      route: proxied,
    });
    expect(dns.message).toBe("API request: cannot resolve the host api.example.test (ENOTFOUND) — check api_base_url");
    // Behind a proxy already: no advice to set one.
    expect(dns.hint).toBe(
      "Check the profile's api_base_url (https://api.example.test) for a typo, and the network's DNS.",
    );
    for (const code of ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]) {
      const byPort = connectFailure(url, code, failed({ code, port: 3128 }), { what: "API request", route: proxied });
      expect(byPort.message, code).toBe(
        `API request: cannot connect to the proxy http://proxy.corp:3128 (HTTPS_PROXY) to reach https://api.example.test (${code})`,
      );
      const byHost = connectFailure(url, code, failed({ code, hostname: "proxy.corp" }), {
        what: "API request",
        route: proxied,
      });
      expect(byHost.message, code).toBe(byPort.message);
    }
    // Other failures from the proxy's port are not "cannot connect to the proxy".
    const tlsErr = connectFailure(url, "CERT_HAS_EXPIRED", failed({ code: "CERT_HAS_EXPIRED", port: 3128 }), {
      what: "API request",
      route: proxied,
    });
    expect(tlsErr.message).toMatch(/through the proxy .* has expired \(CERT_HAS_EXPIRED\)$/);
  });

  it("a proxy without a port: its scheme's default port (80, 443) is the one a refusal names", () => {
    for (const [proxyUrl, port, other] of [
      ["http://proxy.corp", 80, 443],
      ["https://proxy.corp", 443, 80],
    ] as const) {
      const route = { proxy: { url: new URL(proxyUrl), from: "HTTPS_PROXY" } };
      const mine = connectFailure(url, "ECONNREFUSED", failed({ code: "ECONNREFUSED", port }), {
        what: "x",
        route,
      });
      expect(mine.message).toMatch(/^x: cannot connect to the proxy/);
      const notMine = connectFailure(url, "ECONNREFUSED", failed({ code: "ECONNREFUSED", port: other }), {
        what: "x",
        route,
      });
      expect(notMine.message).toMatch(/^x: connection refused by/);
    }
    // No route known at all: the proxy setting in general.
    const tunnel = connectFailure(
      new URL("http://plain.example.test/x"),
      "PROXY_TUNNEL_REFUSED",
      failed({ message: "Proxy response (407) !== 200 when HTTP Tunneling" }),
      { what: "x" },
    );
    expect(tunnel.message).toBe("x: the proxy refused to open a tunnel to plain.example.test:80 (HTTP 407)");
    expect(tunnel.hint).toMatch(/in its URL in HTTPS_PROXY,/);
  });

  it("a TLS failure it has no words for: the code, the field and the general fix", async () => {
    // Real: speaking TLS to a plain HTTP server.
    const plain = createServer((_q, r) => r.end("plain"));
    await new Promise<void>((r) => plain.listen(0, "127.0.0.1", () => r()));
    try {
      const target = new URL(`https://127.0.0.1:${(plain.address() as AddressInfo).port}/x`);
      const e = await fetch(target).then(
        () => undefined,
        (x: unknown) => x,
      );
      const code = networkCode(e) ?? "";
      expect(code).toMatch(/^(ERR_SSL_|EPROTO)/);
      const r = connectFailure(target, code, e, { what: "API request", field: "api_base_url" });
      expect(r.message).toBe(
        `API request: the TLS connection to ${target.origin} was refused (${code}) — check api_base_url`,
      );
      expect(r.hint).toBe(
        "The server's certificate is not accepted here: check the URL, or set the profile's ca_file (or NODE_EXTRA_CA_CERTS) to the PEM file of the CA that signs it.",
      );
    } finally {
      await new Promise((r) => plain.close(r));
    }
  });

  it("networkCode: the code inside an AggregateError (both addresses of a name refused), else undefined", () => {
    const both = new AggregateError(
      [Object.assign(new Error("connect ECONNREFUSED ::1:1"), { code: "ECONNREFUSED" }), new Error("no code")],
      "",
    );
    expect(networkCode(failed(both as unknown as Record<string, unknown>))).toBe("ECONNREFUSED");
    const second = new AggregateError([{ code: 7 }, { code: "EHOSTUNREACH" }], "");
    expect(networkCode(failed(second as unknown as Record<string, unknown>))).toBe("EHOSTUNREACH");
    expect(networkCode(failed({ errors: [{}, { code: 1 }] }))).toBeUndefined();
    expect(networkCode(failed({ message: "something else" }))).toBeUndefined();
    expect(networkCode(new TypeError("fetch failed"))).toBeUndefined();
    expect(networkCode(failed({ message: "bad port" }))).toBe("BAD_PORT");
  });
});
