// The cost of hpauth/undici's authInterceptor on a request: undici `request()` over loopback to a tiny server,
// through a plain Agent (baseline) and through Agent.compose(authInterceptor(manager)) with a warm token in a
// memory store, interleaved (A B A B …, alternating which goes first), median of the per-batch ratios.
//
//   npm run build && node bench/integrations.mjs [--json] [--quick]
import { createServer } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";

const repo = join(fileURLToPath(new URL(".", import.meta.url)), "..");
const { createTokenManager, MemoryTokenStore } = await import(join(repo, "dist", "index.js"));
const { authInterceptor } = await import(join(repo, "dist", "integrations", "undici.js"));
const { startEmulator } = await import(join(repo, "dist", "emulator", "index.js"));
const quick = process.argv.includes("--quick");
const asJson = process.argv.includes("--json");

const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const api = `http://127.0.0.1:${server.address().port}`;
const emu = await startEmulator();
const gl = emu.providers.greenlake;
const manager = createTokenManager({
  profile: {
    name: "gl",
    provider: "greenlake",
    baseUrl: gl.baseUrl,
    apiBaseUrl: api,
    clientId: gl.clientId,
    clientSecret: gl.clientSecret,
  },
  store: new MemoryTokenStore(),
});
await manager.getToken();

const plain = new Agent({ connections: 64 });
const authed = new Agent({ connections: 64 }).compose(authInterceptor(manager));
const N = quick ? 300 : 2000;
const BATCHES = quick ? 5 : 21;
const CONCURRENCY = 32;

async function batch(dispatcher) {
  const t0 = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < N) {
        const r = await request(`${api}/x`, { dispatcher });
        await r.body.dump();
      }
    }),
  );
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

await batch(plain);
await batch(authed); // warm both
const ratios = [];
const times = { plain: [], authed: [] };
for (let i = 0; i < BATCHES; i++) {
  const order = i % 2 ? ["authed", "plain"] : ["plain", "authed"];
  const t = {};
  for (const k of order) t[k] = await batch(k === "plain" ? plain : authed);
  times.plain.push(t.plain);
  times.authed.push(t.authed);
  ratios.push(t.authed / t.plain);
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const result = {
  requests_per_batch: N,
  concurrency: CONCURRENCY,
  batches: BATCHES,
  plain_ms_median: Math.round(median(times.plain)),
  interceptor_ms_median: Math.round(median(times.authed)),
  time_ratio_median: Math.round(median(ratios) * 1000) / 1000,
  added_us_per_request: Math.round(((median(times.authed) - median(times.plain)) / N) * 1000),
};
if (asJson) process.stdout.write(`${JSON.stringify(result)}\n`);
else process.stderr.write(`${JSON.stringify(result, null, 2)}\n`);
await plain.close();
await authed.close();
await emu.close();
server.close();
