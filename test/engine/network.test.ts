/**
 * The engine's network over real sockets: `Network.route()` (what messages and `hpauth doctor` report) agrees with
 * where undici's EnvHttpProxyAgent really sends a request, NO_PROXY entry by entry; the environment is the
 * injected one, not process.env; and a TokenManager reaches the TLS emulator through a proxy with its profile's
 * ca_file.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { HpauthError } from "../../src/engine/errors.js";
import { createTokenManager } from "../../src/engine/manager.js";
import { Network } from "../../src/engine/network.js";
import { type ForwardProxy, startForwardProxy } from "../cli/network-helpers.js";

describe("Network", () => {
  let proxy: ForwardProxy;
  let target: Server;
  let port: number;
  let tls: Emulator;

  beforeAll(async () => {
    proxy = await startForwardProxy();
    target = createServer((_req, res) => res.end("direct"));
    await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
    port = (target.address() as AddressInfo).port;
    tls = await startEmulator({ tls: true });
  });
  afterAll(async () => {
    await proxy?.close();
    await new Promise((r) => target?.close(r));
    await tls?.close();
  });

  it("route() says what EnvHttpProxyAgent does, for every kind of NO_PROXY entry", async () => {
    // `localhost` resolves to the target too, so one server answers every name below.
    const cases: Array<[string, string]> = [
      ["", "127.0.0.1"],
      ["127.0.0.1", "127.0.0.1"],
      [`127.0.0.1:${port}`, "127.0.0.1"],
      ["127.0.0.1:1", "127.0.0.1"],
      ["*", "localhost"],
      ["localhost", "localhost"],
      [".localhost", "localhost"],
      ["*.localhost", "localhost"],
      ["example.com, localhost", "localhost"],
      ["example.com", "localhost"],
      ["calhost", "localhost"],
    ];
    for (const [noProxy, host] of cases) {
      const net = new Network({ env: { HTTP_PROXY: proxy.url, NO_PROXY: noProxy } });
      const url = new URL(`http://${host}:${port}/x`);
      proxy.log.length = 0;
      const res = await net.fetch(url);
      await res.text();
      const viaProxy = proxy.log.length > 0;
      const route = net.route(url);
      expect(!!route.proxy, `NO_PROXY="${noProxy}" ${host}: route ${JSON.stringify(route)}, proxied ${viaProxy}`).toBe(
        viaProxy,
      );
      if (!route.proxy && noProxy) expect(route.bypass).toBeTruthy();
      await net.close();
    }
  });

  it("the environment is the injected one; lower-case variables first; the profile's proxy wins", () => {
    const url = new URL("https://api.example.com");
    expect(new Network({ env: {} }).route(url)).toEqual({});
    expect(new Network({ env: { HTTPS_PROXY: "http://a:1", https_proxy: "http://b:2" } }).route(url).proxy?.from).toBe(
      "https_proxy",
    );
    // An https target without an https proxy takes the http one, as undici does.
    expect(new Network({ env: { HTTP_PROXY: "http://a:1" } }).route(url).proxy?.from).toBe("HTTP_PROXY");
    const own = new Network({ env: { HTTPS_PROXY: "http://a:1" }, proxy: "proxy.corp:3128" }).route(url).proxy;
    expect(own?.from).toBe("proxy");
    expect(own?.url.href).toBe("http://proxy.corp:3128/");
    expect(() => new Network({ env: { HTTPS_PROXY: "socks4://x:1" } }).route(url)).toThrow(HpauthError);
  });

  it("a TokenManager through a proxy to the TLS emulator with the profile's ca_file", async () => {
    const p = tls.providers.greenlake;
    proxy.log.length = 0;
    const m = createTokenManager({
      profile: {
        name: "gl",
        provider: "greenlake",
        baseUrl: p.baseUrl,
        clientId: p.clientId ?? "",
        clientSecretEnv: "S",
        caFile: tls.caFile ?? "",
        proxy: proxy.url,
      },
      runtime: { env: { S: p.clientSecret ?? "" } },
    });
    const t = await m.getToken();
    expect(t.source).toBe("login");
    expect(proxy.log).toEqual([`CONNECT ${new URL(p.baseUrl).host}`]);
    const res = await m.fetch("/api/v1/storage-systems");
    expect(res.status).toBe(200);
    await res.body?.cancel();
    await m.network?.close();
  });

  it("a profile whose proxy is no URL is refused when validated", () => {
    expect(() =>
      createTokenManager({
        profile: { name: "x", provider: "greenlake", clientId: "c", clientSecret: "s", proxy: "ftp://proxy:21" },
      }),
    ).toThrow(/proxy: .*not supported/);
  });
});
