// A small upstream API for bench/proxy.mjs: answers GET /api/v1/things with a ~300-byte JSON body after DELAY_MS
// (0: at once), to a request that carries a Bearer token. Prints its port on stdout.
import { createServer } from "node:http";

const delay = Number(process.env.DELAY_MS ?? 0);
const body = JSON.stringify({
  items: Array.from({ length: 4 }, (_, i) => ({ id: `sys-${i}`, name: `array-${i}`, state: "OK", capacity: 1e12 })),
  count: 4,
});
const server = createServer((req, res) => {
  req.resume();
  if (!/^Bearer \S{20,}$/.test(req.headers.authorization ?? "")) {
    res.writeHead(401, { "content-type": "application/json" });
    res.end('{"error":"invalid_token"}');
    return;
  }
  const answer = () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };
  if (delay > 0) setTimeout(answer, delay);
  else answer();
});
server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
