/**
 * Edges of src/engine/http.ts not covered by http-retry and http-connect-errors: an https:// proxy whose own
 * certificate is for another name (undici reports it wrapped, as UND_ERR_PRX_TLS: the message must blame the
 * proxy, not the service), a 300 answer where JSON was due (the caller's, like any non-2xx), and a name mismatch
 * reported without Node's reason, and the "still waiting" event of a request sent once.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { connectFailure, send } from "../../src/engine/http.js";
import { Network } from "../../src/engine/network.js";
import { rejection, testContext } from "./http-context.js";

describe("an https:// proxy whose certificate is for another name", () => {
  let wrongName: Emulator;
  beforeAll(async () => {
    // Its certificate names only "localhost"; it is reached as 127.0.0.1.
    wrongName = await startEmulator({ tls: { hosts: ["localhost"] } });
  }, 60_000);
  afterAll(async () => {
    await wrongName?.close();
  });

  it("the proxy's certificate is named, with the proxy setting to fix; not retried", async () => {
    const proxyUrl = `https://127.0.0.1:${new URL(wrongName.providers.greenlake.baseUrl).port}`;
    for (const [net, from, fix] of [
      [new Network({ env: { HTTPS_PROXY: proxyUrl }, caFile: wrongName.caFile ?? "" }), "HTTPS_PROXY", "HTTPS_PROXY"],
      [new Network({ env: {}, proxy: proxyUrl, caFile: wrongName.caFile ?? "" }), "proxy", "the profile's proxy"],
    ] as const) {
      const t = testContext({ fetch: net.fetch, route: (u) => net.route(u) });
      const err = await rejection(
        send(
          t.ctx,
          new URL("https://hpauth-target.invalid/as/token.oauth2"),
          { method: "POST" },
          {
            what: "GreenLake token request",
            expectJson: true,
          },
        ),
      );
      await net.close();
      expect(err.code).toBe("NETWORK_ERROR");
      expect(err.exitCode).toBe(5);
      expect(err.message).toMatch(
        new RegExp(
          `^GreenLake token request: the TLS certificate of the proxy ${proxyUrl.replace(/\./g, "\\.")} \\(${from}\\) is not valid for the name 127\\.0\\.0\\.1: IP: 127\\.0\\.0\\.1 is not in the cert's list`,
        ),
      );
      expect(err.message).not.toContain("hpauth-target.invalid");
      expect(err.hint).toBe(`Use the host name the proxy's certificate was issued for in ${fix}.`);
      expect(t.calls()).toBe(1);
    }
  });
});

describe("edges", () => {
  it("a 300 where JSON was due is the caller's, as any answer that is not 2xx", async () => {
    const srv = createServer((_q, res) => res.writeHead(300, { location: "/a" }).end("choose"));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    try {
      const url = new URL(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/x`);
      const res = await send(testContext().ctx, url, { method: "POST" }, { what: "x", expectJson: true });
      expect(res.status).toBe(300);
      expect(res.text).toBe("choose");
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it("a request sent once, past the usual timeout: the wait is said once (progress, --verbose), then the answer is taken", async () => {
    let respond: (() => void) | undefined;
    let waited = false;
    let requests = 0;
    // The server answers only once the client has said it is still waiting (whichever comes last: the request's
    // arrival or the event): no race with the clock.
    const srv = createServer((req, res) => {
      requests++;
      req.resume();
      respond = () => res.writeHead(200, { "content-type": "application/json" }).end('{"access_token":"at"}');
      if (waited) respond();
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    try {
      const url = new URL(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/token`);
      const t = testContext({ retry: { timeoutMs: 50, nonIdempotentTimeoutMs: 20_000 } });
      t.ctx.emit = (e) => {
        t.events.push(e);
        if (e.type !== "waiting_answer") return;
        waited = true;
        respond?.();
      };
      const res = await send(
        t.ctx,
        url,
        { method: "POST" },
        { what: "Aruba token refresh", expectJson: true, once: "refresh" },
      );
      expect(res.json).toEqual({ access_token: "at" });
      expect(t.events).toEqual([
        {
          type: "waiting_answer",
          message: `Aruba token refresh: no answer from ${url.origin} after 50ms; waiting up to 20s, as it is not sent twice`,
          waitedMs: 50,
        },
      ]);
      expect(requests).toBe(1);
    } finally {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });

  it("a name mismatch without Node's reason: the name and the field, nothing invented", () => {
    const url = new URL("https://api.example.test/v1");
    const error = Object.assign(new TypeError("fetch failed"), { cause: { code: "ERR_TLS_CERT_ALTNAME_INVALID" } });
    const r = connectFailure(url, "ERR_TLS_CERT_ALTNAME_INVALID", error, {
      what: "API request",
      field: "api_base_url",
    });
    expect(r.message).toBe(
      "API request: the TLS certificate of https://api.example.test is not valid for the name api.example.test — check api_base_url",
    );
  });
});
