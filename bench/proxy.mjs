// `hpauth proxy` against direct calls, on loopback, in the same run: autocannon drives a small upstream API
// (bench/proxy-upstream.mjs, a child process) directly with a valid Bearer header, through the built
// `hpauth proxy` (a child process, default file store, GreenLake profile against the in-process emulator, its
// apiBaseUrl pointed at the upstream), and through a trivial node:http reverse proxy (bench/proxy-reference.mjs:
// the cost of one extra Node HTTP hop on this machine, the floor any Node proxy stands on). Rounds rotate the order
// (direct, proxy, reference; proxy, reference, direct; …); medians reported.
//
//   npm run build && node bench/proxy.mjs [--quick] [--json] [--only SCENARIO] [--baseline DIR]
//     (--quick: 3 rounds × 2 s, else 6 × 4 s; open-loop runs 5 s / 10 s)
//   --syscalls: in the open-loop scenario, one more run per target under `strace -c -f -p <pid>`: system calls per
//     request of each serving process (a count, so independent of the machine's load; needs strace).
//   --baseline DIR: also runs the `hpauth proxy` of another built tree (DIR/bin/hpauth.js, e.g. the previous commit
//     checked out and built in a temp dir) as a fourth target in the same rotation: old build vs new build side by side.
//
// Columns: request rate, p50/p99 latency (closed loop: autocannon, each connection sends its next request when the
// last is answered), and **CPU time per request** of the process serving each target (utime + stime of the proxy,
// reference or baseline process from /proc/<pid>/stat over the run ÷ requests answered; for `direct` the upstream's):
// far less sensitive to other load on the machine than latency or throughput, which on a shared machine measure the
// wait for a time slice as much as the proxy.
//
// Scenarios: `api-like` — the upstream answers after 20 ms, as a real API at best does, 8 connections (a script or
// Newman run; Aruba allows 7 calls/s anyway): what a user sees; `api-like-busy` — the same with 50; `saturated` — the upstream answers at once, 10 connections, every process CPU-bound on 2 shared cores:
// the proxy's own cost laid bare (it does more work per request than this upstream, so the ratio is well below 1),
// with the default file store (a token-file read per request, or per burst of concurrent requests) and --store memory;
// `api-like-open` — open loop: requests arrive at a fixed rate (150 req/s, evenly spaced, each on a free keep-alive
// connection of a 64-connection pool) whatever the answers do, well below saturation, so its p99 added is what the
// proxy adds to one request, not the queue in front of two shared cores that a closed loop at full speed builds.
// (Not autocannon's overallRate: it is a per-connection quota per second — a connection sends back to back until its
// quota is used, then waits for the next second — so arrivals come in bursts at each second's start.)
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { Pool } from "undici";

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
const syscalls = process.argv.includes("--syscalls");
const baselineDir = process.argv.includes("--baseline")
  ? process.argv[process.argv.indexOf("--baseline") + 1]
  : undefined;

// CPU time (user + system, all threads) of a process so far, in ms, from /proc/<pid>/stat (Linux).
let tickMs = 10;
try {
  tickMs = 1000 / Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
} catch {}
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * tickMs; // fields 14 and 15: utime, stime
  } catch {
    return Number.NaN;
  }
}
const pct = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** System calls per request of process `pid` (all threads) while `run()` sends requests: strace -c's table. */
async function syscallsPerRequest(pid, run) {
  const out = join(root, `strace-${pid}.txt`);
  const st = spawn("strace", ["-c", "-f", "-o", out, "-p", String(pid)], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 1000)); // attached
  const res = await run();
  st.kill("SIGINT");
  await new Promise((r) => st.on("close", r));
  const calls = {};
  for (const l of readFileSync(out, "utf8").split("\n")) {
    const f = l.trim().split(/\s+/);
    if (f.length >= 5 && /^\d+$/.test(f[3]) && f.at(-1) !== "total") calls[f.at(-1)] = Number(f[3]);
  }
  const n = res.requests.total;
  const sorted = Object.entries(calls).sort((a, b) => b[1] - a[1]);
  return {
    total: r2(sorted.reduce((a, [, c]) => a + c, 0) / n),
    ...Object.fromEntries(sorted.filter(([, c]) => c / n >= 0.05).map(([k, c]) => [k, r2(c / n)])),
  };
}

/** Open loop: `rate` requests per second, evenly spaced, for `seconds`; latencies in ms from each request's send. */
async function openLoop(url, headers, rate, seconds) {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: 64, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies = [];
  let errors = 0;
  let non2xx = 0;
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const started = performance.now();
  const inFlight = [];
  const one = async () => {
    const t0 = performance.now();
    try {
      const res = await pool.request({ path: u.pathname + u.search, method: "GET", headers });
      await res.body.dump();
      if (res.statusCode < 200 || res.statusCode > 299) non2xx++;
      else latencies.push(performance.now() - t0);
    } catch {
      errors++;
    }
  };
  for (let i = 0; i < total; i++) {
    const wait = started + i * interval - performance.now();
    if (wait > 0.5) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(one());
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    non2xx,
    errors,
    requests: { total: latencies.length, average: latencies.length / elapsed },
    latency: { p50: pct(latencies, 0.5), p99: pct(latencies, 0.99) },
  };
}

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

async function scenario(name, { delayMs, connections, seconds, rounds, store = "file", rate }) {
  const up = child([join(repo, "bench", "proxy-upstream.mjs")], { ...minimalEnv, DELAY_MS: String(delayMs) });
  const upstream = `http://127.0.0.1:${await up.line}`;
  const startProxy = async (tree, tag) => {
    const px = child(
      [
        join(tree, "bin", "hpauth.js"),
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
        join(root, `store-${name}-${tag}`),
        "--store",
        store,
      ],
      { ...minimalEnv, GL_SECRET: gl.clientSecret },
    );
    const ready = JSON.parse(await px.line);
    return { px, url: Object.values(ready.proxies)[0].url };
  };
  const { px, url: proxyUrl } = await startProxy(repo, "new");
  const base = baselineDir ? await startProxy(baselineDir, "baseline") : undefined;
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
  if (base) targets.baseline = { url: `${base.url}/api/v1/things`, headers: {} };
  const pids = { direct: up.p.pid, proxy: px.p.pid, reference: ref.p.pid, baseline: base?.px.p.pid };
  const load = (t, duration) =>
    rate
      ? openLoop(targets[t].url, targets[t].headers, rate, duration)
      : new Promise((resolve, reject) =>
          autocannon({ ...targets[t], connections, duration, pipelining: 1 }, (e, res) =>
            e ? reject(e) : resolve(res),
          ),
        );
  const once = async (t, duration) => {
    const before = cpuMs(pids[t]);
    const res = await load(t, duration);
    res.cpuUsPerRequest = ((cpuMs(pids[t]) - before) * 1000) / res.requests.total;
    return res;
  };
  await once("direct", 1); // warm-up: JIT, connections, the proxy's first token
  // 3 s: the token file is then older than the file store's 2 s racy window, so the proxy is measured as it runs
  // for the token's life (the store's lstat fast path), not in the seconds after a refresh.
  await once("proxy", 3);
  if (base) await once("baseline", 3);
  await once("reference", 1);
  const order = base ? ["direct", "proxy", "reference", "baseline"] : ["direct", "proxy", "reference"];
  const runs = Object.fromEntries(order.map((t) => [t, []]));
  for (let i = 0; i < rounds; i++) {
    for (const t of [...order.slice(i % order.length), ...order.slice(0, i % order.length)]) {
      const res = await once(t, seconds);
      if (res.non2xx || res.errors) throw new Error(`${name}/${t}: ${res.non2xx} non-2xx, ${res.errors} errors`);
      runs[t].push({ rps: res.requests.average, p50: res.latency.p50, p99: res.latency.p99, cpu: res.cpuUsPerRequest });
    }
  }
  const sys = {};
  if (syscalls && rate) for (const t of order) sys[t] = await syscallsPerRequest(pids[t], () => load(t, seconds));
  px.p.kill("SIGTERM");
  base?.px.p.kill("SIGTERM");
  ref.p.kill("SIGTERM");
  up.p.kill("SIGTERM");
  const m = (t, k) => median(runs[t].map((x) => x[k]));
  const ratio = (t) => r2(median(runs[t].map((x, i) => x.rps / runs.direct[i].rps)));
  const added = (t, k) => r2(median(runs[t].map((x, i) => x[k] - runs.direct[i][k])));
  // CPU per request relative to the reference, per round (the two ran back to back), then the median.
  const cpuRatio = (t) => r2(median(runs[t].map((x, i) => x.cpu / runs.reference[i].cpu)));
  const summary = (t) => ({
    rps: r2(m(t, "rps")),
    p50_ms: r2(m(t, "p50")),
    p99_ms: r2(m(t, "p99")),
    cpu_us_per_request: Math.round(m(t, "cpu")),
  });
  const out = {
    scenario: name,
    store,
    upstream_delay_ms: delayMs,
    ...(rate ? { open_loop_rate: rate } : { connections }),
    rounds,
    seconds_per_run: seconds,
    direct: summary("direct"),
    proxy: summary("proxy"),
    reference: summary("reference"),
    throughput_ratio: ratio("proxy"),
    p50_added_ms: added("proxy", "p50"),
    p99_added_ms: added("proxy", "p99"),
    cpu_ratio_to_reference: cpuRatio("proxy"),
    reference_throughput_ratio: ratio("reference"),
    reference_p99_added_ms: added("reference", "p99"),
  };
  if (base) {
    out.baseline = summary("baseline");
    out.baseline_throughput_ratio = ratio("baseline");
    out.baseline_p99_added_ms = added("baseline", "p99");
    out.baseline_cpu_ratio_to_reference = cpuRatio("baseline");
  }
  if (syscalls && rate) out.syscalls_per_request = sys;
  // Every run, for a reader who wants more than medians: [req/s, p50 ms, p99 ms, CPU µs per request].
  out.runs = Object.fromEntries(
    Object.entries(runs).map(([t, xs]) => [t, xs.map((x) => [r2(x.rps), r2(x.p50), r2(x.p99), Math.round(x.cpu)])]),
  );
  out.load_average = loadavg().map(r2);
  return out;
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
  // Open loop, well below saturation: what the proxy adds to one request.
  ["api-like-open", { delayMs: 20, rate: 150 }],
];
const results = [];
try {
  for (const [name, opts] of SCENARIOS) {
    if (only && name !== only) continue;
    const secs = opts.rate ? (quick ? 5 : 10) : seconds;
    results.push(await scenario(name, { ...opts, seconds: secs, rounds }));
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
      `${r.scenario.padEnd(16)} ${r.store.padEnd(6)} direct ${r.direct.rps} req/s p99 ${r.direct.p99_ms} ms | proxy ${r.proxy.rps} req/s p99 ${r.proxy.p99_ms} ms: ×${r.throughput_ratio}, p50 +${r.p50_added_ms} ms, p99 +${r.p99_added_ms} ms, ${r.proxy.cpu_us_per_request} µs CPU/req (×${r.cpu_ratio_to_reference} of the reference) | reference ×${r.reference_throughput_ratio}, p99 +${r.reference_p99_added_ms} ms, ${r.reference.cpu_us_per_request} µs CPU/req${
        r.syscalls_per_request
          ? ` | syscalls/request ${Object.entries(r.syscalls_per_request)
              .map(([t, x]) => `${t} ${x.total}`)
              .join(", ")}`
          : ""
      }${r.baseline ? ` | baseline ×${r.baseline_throughput_ratio}, p99 +${r.baseline_p99_added_ms} ms, ${r.baseline.cpu_us_per_request} µs CPU/req (×${r.baseline_cpu_ratio_to_reference})` : ""} | load ${r.load_average.join(" ")}`,
    );
}
process.exit(0);
