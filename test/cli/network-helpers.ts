/**
 * For the proxy / TLS / doctor tests: the built CLI as a child process with a clean environment, and a forward
 * proxy on loopback that logs what it is asked (CONNECT host:port for https targets, absolute-form requests for
 * http ones), optionally demanding Basic credentials (407) as corporate proxies do.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { type ProcessResult, runCliAt } from "./helpers.js";

export type Result = ProcessResult;

/** The CLI at `bin` with a clean environment (test/cli/helpers.ts's runCliAt). */
export function runCli(bin: string, args: string[], env: Record<string, string> = {}, stdin = ""): Promise<Result> {
  return runCliAt(bin, args, env, stdin);
}

export interface ForwardProxy {
  url: string;
  /** "CONNECT 127.0.0.1:1234", "POST http://127.0.0.1:1234/path", each as it arrived. */
  log: string[];
  close(): Promise<void>;
}

/** A small forward proxy (hand-written: the test needs to see and refuse requests, which a packaged proxy hides). */
export async function startForwardProxy(options: { credentials?: string } = {}): Promise<ForwardProxy> {
  const log: string[] = [];
  const sockets = new Set<Socket>();
  const expected = options.credentials ? `Basic ${Buffer.from(options.credentials).toString("base64")}` : undefined;
  const authorized = (req: IncomingMessage) => !expected || req.headers["proxy-authorization"] === expected;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    log.push(`${req.method} ${req.url}`);
    if (!authorized(req)) {
      res.writeHead(407, { "proxy-authenticate": 'Basic realm="test"' }).end();
      return;
    }
    const target = new URL(req.url ?? "/");
    const headers = { ...req.headers };
    delete headers["proxy-authorization"];
    delete headers["proxy-connection"];
    const up = request(
      { host: target.hostname, port: target.port, method: req.method, path: target.pathname + target.search, headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on("error", () => res.writeHead(502).end());
    req.pipe(up);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    log.push(`CONNECT ${req.url}`);
    if (!authorized(req)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n');
      return;
    }
    const [host, port] = (req.url ?? "").split(/:(?=\d+$)/);
    const upstream = connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
