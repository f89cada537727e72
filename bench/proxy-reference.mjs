// The floor of any Node reverse proxy, for bench/proxy.mjs: node:http server → node:http keep-alive Agent →
// UPSTREAM, headers passed through with a fixed Bearer token (TOKEN), bodies piped. No token source, no checks,
// no metrics: what one extra Node HTTP hop costs on this machine. Prints its port on stdout.
import { Agent, createServer, request } from "node:http";

const upstream = new URL(process.env.UPSTREAM ?? "http://127.0.0.1:9");
const authorization = `Bearer ${process.env.TOKEN ?? ""}`;
const agent = new Agent({ keepAlive: true });
const server = createServer((req, res) => {
  const { host: _host, connection: _connection, ...headers } = req.headers;
  headers.authorization = authorization;
  const up = request(
    { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers, agent },
    (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    },
  );
  up.on("error", () => res.destroy());
  req.pipe(up);
});
server.keepAliveTimeout = 5_000;
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
