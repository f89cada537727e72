/**
 * The ends of an answer that the main proxy tests do not reach: a caller that hangs up in the middle of an answer
 * (the upstream request is cut, the request is counted, the proxy keeps serving), and a token refusal whose body is
 * larger than the part the engine reads (still one renewal and one retry). Real sockets, a small local API.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EMU_OPTIONS, type Harness, proxyFor, raw, startHarness } from "./helpers.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness(EMU_OPTIONS);
});
afterAll(() => h.close());

async function api(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

async function until(what: string, ok: () => boolean, ms = 15_000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("a caller that hangs up mid-answer", () => {
  it("cuts the upstream request, counts the request (4xx), and the proxy keeps serving", async () => {
    let upstreamClosed = false;
    let ticker: NodeJS.Timeout | undefined;
    const up = await api((req, res) => {
      req.resume();
      if (req.url === "/endless") {
        res.on("close", () => {
          upstreamClosed = true;
          clearInterval(ticker);
        });
        res.writeHead(200, { "content-type": "application/octet-stream" });
        res.write(Buffer.alloc(1024, 1));
        ticker = setInterval(() => res.write(Buffer.alloc(1024, 2)), 10);
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"ok":true}');
    });
    const run = await proxyFor([{ name: "gl", manager: h.manager("greenlake", { apiBaseUrl: up.url }) }]);
    try {
      const u = new URL(`${run.url()}/endless`);
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, agent: false }, (res) => {
          expect(res.statusCode).toBe(200);
          res.once("data", () => {
            req.destroy(); // hang up with the answer still coming
            resolve();
          });
        });
        req.on("error", (e) => (e.message.includes("socket hang up") ? undefined : reject(e)));
        req.end();
      });
      await until("the upstream request to be cut", () => upstreamClosed);
      let m = "";
      await until("the request to be counted", () => {
        run.proxy.metrics.text().then((t) => {
          m = t;
        });
        return /hpauth_proxy_requests_total\{profile="gl",code_class="4xx"\} 1/.test(m);
      });
      expect(m).toMatch(/hpauth_proxy_in_flight_requests\{profile="gl"\} 0/);
      const next = await raw(`${run.url()}/again`);
      expect(next.status).toBe(200);
      expect(next.json()).toEqual({ ok: true });
    } finally {
      clearInterval(ticker);
      await run.proxy.close();
      await up.close();
    }
  });
});

describe("a token refusal with a large body", () => {
  it("is still renewed once and retried once; the caller gets the retry's answer", async () => {
    let calls = 0;
    const auths: string[] = [];
    const up = await api((req, res) => {
      req.resume();
      calls++;
      auths.push(req.headers.authorization ?? "");
      if (calls === 1) {
        // Far more than the 64 KiB the engine may read to judge an answer.
        res.writeHead(401, { "content-type": "text/plain" });
        res.end("x".repeat(300 * 1024));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"ok":true}');
    });
    const manager = h.manager("greenlake", { apiBaseUrl: up.url });
    const run = await proxyFor([{ name: "gl", manager }]);
    try {
      const before = (await h.counters("greenlake")).tokensIssued;
      const res = await raw(`${run.url()}/refused-then-fine`);
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ ok: true });
      expect(calls).toBe(2);
      expect(auths[1]).not.toBe(auths[0]);
      expect((await h.counters("greenlake")).tokensIssued).toBe(before + 2); // the first token, then one renewal
      expect(await run.proxy.metrics.text()).toMatch(/hpauth_proxy_retries_total\{profile="gl"\} 1/);
    } finally {
      await run.proxy.close();
      await up.close();
    }
  });
});
