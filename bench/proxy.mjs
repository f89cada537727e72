// `hpauth proxy` against direct calls, on loopback, in the same run: autocannon drives a small upstream API
// (bench/proxy-upstream.mjs, a child process) directly with a valid Bearer header, through the built
// `hpauth proxy` (a child process, default file store, GreenLake profile against the in-process emulator, its
// apiBaseUrl pointed at the upstream), and through a trivial node:http reverse proxy (bench/proxy-reference.mjs:
// the cost of one extra Node HTTP hop on this machine, the floor any Node proxy stands on). Rounds rotate the order
// (direct, proxy, reference; proxy, reference, direct; …); medians reported.
//
//   npm run build && node bench/proxy.mjs [--quick] [--json] [--only SCENARIO]   (--quick: 3 rounds × 2 s, else 6 × 4 s)
//
// Scenarios: `api-like` — the upstream answers after 20 ms, as a real API at best does, 8 connections (a script or
// Newman run; Aruba allows 7 calls/s anyway): what a user sees; `api-like-busy` — the same with 50; `saturated` — the upstream answers at once, 10 connections, every process CPU-bound on 2 shared cores:
// the proxy's own cost laid bare (it does more work per request than this upstream, so the ratio is well below 1),
// with the default file store (a token-file read per request, or per burst of concurrent requests) and --store memory.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

const repo = fileURLToPath(new URL("..", import.meta.url));
const quick = process.argv.includes("--quick");
const asJson = process.argv.includes("--json");
const log = (l) => asJson || process.stderr.write(`${l}\n`);
const { startEmulator } = await import(join(repo, "dist", "emulator", "index.js"));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const r2 = (x) => Math.round(x * 100) / 100;

function child(args, env) {
  const p = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let err = "";
  p.stderr.on("data", (c) => {
    err += c;
  });
  const line = new Promise((resolve, reject) => {
    let out = "";
    p.stdout.on("data", (c) => {
      out += c;
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    p.on("close", (code) => reject(new Error(`${args[0]} exited ${code}: ${err}`)));
  });
  return { p, line };
}

const root = await mkdtemp(join(tmpdir(), "hpauth-bench-proxy-"));
const emu = await startEmulator({ port: 0 });
const gl = emu.providers.greenlake;
const minimalEnv = { PATH: process.env.PATH ?? "", HOME: join(root, "home"), XDG_CONFIG_HOME: join(root, "xdg") };
const tokenRes = await fetch(`${gl.baseUrl}/as/token.oauth2`, {
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({
    grant_type: "client_credentials",
    client_id: gl.clientId,
    client_secret: gl.clientSecret,
  }),
});
const directToken = (await tokenRes.json()).access_token;

async function scenario(name, { delayMs, connections, seconds, rounds, store = "file" }) {
  const up = child([join(repo, "bench", "proxy-upstream.mjs")], { ...minimalEnv, DELAY_MS: String(delayMs) });
  const upstream = `http://127.0.0.1:${await up.line}`;
  const px = child(
    [
      join(repo, "bin", "hpauth.js"),
      "proxy",
      "--json",
      "--provider",
      "greenlake",
      "--base-url",
      gl.baseUrl,
      "--api-base-url",
      upstream,
      "--client-id",
      gl.clientId,
      "--client-secret-env",
      "GL_SECRET",
      "--store-dir",
      join(root, `store-${name}`),
      "--store",
      store,
    ],
    { ...minimalEnv, GL_SECRET: gl.clientSecret },
  );
  const ready = JSON.parse(await px.line);
  const proxyUrl = Object.values(ready.proxies)[0].url;
  const ref = child([join(repo, "bench", "proxy-reference.mjs")], {
    ...minimalEnv,
    UPSTREAM: upstream,
    TOKEN: directToken,
  });
  const refUrl = `http://127.0.0.1:${await ref.line}`;
  const targets = {
    direct: { url: `${upstream}/api/v1/things`, headers: { authorization: `Bearer ${directToken}` } },
    proxy: { url: `${proxyUrl}/api/v1/things`, headers: {} },
    reference: { url: `${refUrl}/api/v1/things`, headers: {} },
  };
  const once = (t, duration) =>
    new Promise((resolve, reject) =>
      autocannon({ ...targets[t], connections, duration, pipelining: 1 }, (e, res) => (e ? reject(e) : resolve(res))),
    );
  await once("direct", 1); // warm-up: JIT, connections, the proxy's first token
  // 3 s: the token file is then older than the file store's 2 s racy window, so the proxy is measured as it runs
  // for the token's life (the store's lstat fast path), not in the seconds after a refresh.
  await once("proxy", 3);
  await once("reference", 1);
  const runs = { direct: [], proxy: [], reference: [] };
  const order = ["direct", "proxy", "reference"];
  for (let i = 0; i < rounds; i++) {
    for (const t of [...order.slice(i % 3), ...order.slice(0, i % 3)]) {
      const res = await once(t, seconds);
      if (res.non2xx || res.errors) throw new Error(`${name}/${t}: ${res.non2xx} non-2xx, ${res.errors} errors`);
      runs[t].push({ rps: res.requests.average, p50: res.latency.p50, p99: res.latency.p99 });
    }
  }
  px.p.kill("SIGTERM");
  ref.p.kill("SIGTERM");
  up.p.kill("SIGTERM");
  const m = (t, k) => median(runs[t].map((x) => x[k]));
  const ratio = (t) => r2(median(runs[t].map((x, i) => x.rps / runs.direct[i].rps)));
  const added = (t, k) => r2(median(runs[t].map((x, i) => x[k] - runs.direct[i][k])));
  return {
    scenario: name,
    store,
    upstream_delay_ms: delayMs,
    connections,
    rounds,
    seconds_per_run: seconds,
    direct: { rps: r2(m("direct", "rps")), p50_ms: m("direct", "p50"), p99_ms: m("direct", "p99") },
    proxy: { rps: r2(m("proxy", "rps")), p50_ms: m("proxy", "p50"), p99_ms: m("proxy", "p99") },
    reference: { rps: r2(m("reference", "rps")), p50_ms: m("reference", "p50"), p99_ms: m("reference", "p99") },
    throughput_ratio: ratio("proxy"),
    p50_added_ms: added("proxy", "p50"),
    p99_added_ms: added("proxy", "p99"),
    reference_throughput_ratio: ratio("reference"),
    reference_p99_added_ms: added("reference", "p99"),
    load_average: loadavg().map(r2),
  };
}

const rounds = quick ? 3 : 6;
const seconds = quick ? 2 : 4;
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
const SCENARIOS = [
  // A client of a rate-limited API (Aruba allows 7 calls/s per client id): a few connections, API latency.
  ["api-like", { delayMs: 20, connections: 8 }],
  // Many concurrent callers on one proxy.
  ["api-like-busy", { delayMs: 20, connections: 50 }],
  ["saturated", { delayMs: 0, connections: 10 }],
  ["saturated-memory", { delayMs: 0, connections: 10, store: "memory" }],
];
const results = [];
try {
  for (const [name, opts] of SCENARIOS) {
    if (only && name !== only) continue;
    results.push(await scenario(name, { ...opts, seconds, rounds }));
    log(JSON.stringify(results.at(-1)));
  }
} finally {
  await emu.close();
  await rm(root, { recursive: true, force: true });
}
const doc = { machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, results };
if (asJson) process.stdout.write(`${JSON.stringify(doc)}\n`);
else {
  for (const r of results)
    log(
      `${r.scenario.padEnd(16)} ${r.store.padEnd(6)} direct ${r.direct.rps} req/s p99 ${r.direct.p99_ms} ms | proxy ${r.proxy.rps} req/s p99 ${r.proxy.p99_ms} ms: ×${r.throughput_ratio}, p50 +${r.p50_added_ms} ms, p99 +${r.p99_added_ms} ms | reference ×${r.reference_throughput_ratio}, p99 +${r.reference_p99_added_ms} ms | load ${r.load_average.join(" ")}`,
    );
}
process.exit(0);
