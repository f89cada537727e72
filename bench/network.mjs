// What a proxy and a CA file cost a token request: `hpauth token --store memory` (a new GreenLake grant per process,
// the emulator on loopback) in four network setups, interleaved round by round (rotating the order), median of many
// rounds, each as a ratio to the first in the same run:
//   direct      http emulator, no proxy: Node's fetch as it is (undici is not loaded)
//   proxy       the same through HTTP_PROXY (a forward proxy on loopback): EnvHttpProxyAgent loaded, one more hop
//   tls-extra   TLS emulator, CA by NODE_EXTRA_CA_CERTS: Node's fetch, a TLS handshake
//   tls-cafile  TLS emulator, CA by ca_file: EnvHttpProxyAgent loaded with the CA list, a TLS handshake
//
//   npm run build && node bench/network.mjs [--rounds N] [--json]
//
// Children get a minimal environment; the secret goes by environment variable name, never argv.
import { spawn } from "node:child_process";
import { createServer, request } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const argv = process.argv.slice(2);
const at = argv.indexOf("--rounds");
const rounds = at >= 0 ? Number(argv[at + 1]) : 15;
const asJson = argv.includes("--json");
const repo = fileURLToPath(new URL("..", import.meta.url));
const bin = join(repo, "bin", "hpauth.js");
const { startEmulator } = await import(join(repo, "dist", "emulator", "index.js"));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function run(args, env) {
  return new Promise((done, fail) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
    let err = "";
    p.stdout.resume();
    p.stderr.on("data", (c) => {
      err += c;
    });
    p.on("error", fail);
    p.on("close", (code) => done({ ms: Number(process.hrtime.bigint() - t0) / 1e6, code, err }));
  });
}

/** A minimal forward proxy: CONNECT tunnels and absolute-form requests. */
async function forwardProxy() {
  const server = createServer((req, res) => {
    const t = new URL(req.url);
    const up = request(
      { host: t.hostname, port: t.port, method: req.method, path: t.pathname + t.search, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on("error", () => res.writeHead(502).end());
    req.pipe(up);
  });
  server.on("connect", (req, client, head) => {
    const [host, port] = req.url.split(/:(?=\d+$)/);
    const up = connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on("error", () => client.destroy());
    client.on("error", () => up.destroy());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

const [plain, tls, proxy] = await Promise.all([startEmulator(), startEmulator({ tls: true }), forwardProxy()]);
const base = { PATH: process.env.PATH ?? "", HOME: "/nonexistent", XDG_CONFIG_HOME: "/nonexistent" };
const gl = (emu, ...extra) => ({
  args: [
    "token",
    "--store",
    "memory",
    "--provider",
    "greenlake",
    "--base-url",
    emu.providers.greenlake.baseUrl,
    "--client-id",
    emu.providers.greenlake.clientId,
    "--client-secret-env",
    "GL_SECRET",
    ...extra,
  ],
  env: { ...base, GL_SECRET: emu.providers.greenlake.clientSecret },
});
const cases = {
  direct: gl(plain),
  proxy: { ...gl(plain), env: { ...gl(plain).env, HTTP_PROXY: proxy.url } },
  "tls-extra": { ...gl(tls), env: { ...gl(tls).env, NODE_EXTRA_CA_CERTS: tls.caFile } },
  "tls-cafile": gl(tls, "--ca-file", tls.caFile),
};
const names = Object.keys(cases);
const times = Object.fromEntries(names.map((n) => [n, []]));
try {
  for (const n of names) {
    const r = await run(cases[n].args, cases[n].env); // warm-up, and a check that each setup works
    if (r.code !== 0) throw new Error(`${n}: exit ${r.code}: ${r.err}`);
  }
  for (let i = 0; i < rounds; i++) {
    const order = names.map((_, k) => names[(k + i) % names.length]);
    for (const n of order) times[n].push((await run(cases[n].args, cases[n].env)).ms);
  }
} finally {
  await Promise.all([plain.close(), tls.close()]);
  proxy.close();
}
const med = Object.fromEntries(names.map((n) => [n, median(times[n])]));
const result = {
  rounds,
  median_ms: Object.fromEntries(names.map((n) => [n, Math.round(med[n])])),
  ratio_to_direct: Object.fromEntries(names.map((n) => [n, Math.round((med[n] / med.direct) * 100) / 100])),
};
if (asJson) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  for (const n of names)
    process.stdout.write(
      `${n.padEnd(11)} ${String(result.median_ms[n]).padStart(5)} ms  ×${result.ratio_to_direct[n]}\n`,
    );
}
