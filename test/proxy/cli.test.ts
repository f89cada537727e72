/**
 * `hpauth proxy` as users run it: the built CLI as a child process against the emulator. The ready line, the access
 * log, a 100 MB body streamed each way with the proxy's peak RSS watched, SIGTERM draining an in-flight request.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { raw } from "./helpers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = join(root, "bin/hpauth.js");

let emu: Emulator;
let dir: string;
const children: ChildProcessWithoutNullStreams[] = [];
let spawned = 0;

beforeAll(async () => {
  emu = await startEmulator({ port: 0, arubaApiPerSecond: 100_000 });
  dir = await mkdtemp(join(tmpdir(), "hpauth-proxy-cli-"));
});
afterAll(async () => {
  await emu.close();
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
  await emu.admin.reset();
});

interface Running {
  child: ChildProcessWithoutNullStreams;
  ready: { proxies: Record<string, { url: string; upstream: string; healthUrl: string; metricsUrl: string }> };
  stderr: () => string;
  exited: Promise<number | null>;
}

function greenlakeArgs() {
  const gl = emu.providers.greenlake;
  return {
    args: [
      "--provider",
      "greenlake",
      "--base-url",
      gl.baseUrl,
      "--client-id",
      gl.clientId!,
      "--client-secret-env",
      "GL_SECRET",
    ],
    env: { GL_SECRET: gl.clientSecret! },
  };
}

function spawnProxy(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, [bin, "proxy", ...args], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: join(dir, "home"),
      XDG_CONFIG_HOME: join(dir, "xdg"),
      HPAUTH_STORE_DIR: join(dir, `store-${spawned++}`),
      ...env,
    },
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr.on("data", (c) => {
    err += c;
  });
  const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (c) => {
      out += c;
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve({ child, ready: JSON.parse(out.slice(0, nl)), stderr: () => err, exited });
    });
    exited.then((code) => reject(new Error(`proxy exited ${code} before printing a line: ${err}`)));
  });
}

/** Peak and current resident set of a process, from /proc (Linux). */
async function rss(pid: number): Promise<{ peak: number; now: number }> {
  const s = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1]) * 1024;
  return { peak: kb("VmHWM"), now: kb("VmRSS") };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe("hpauth proxy (built CLI)", () => {
  it("--json ready line; forwards with the token; access log on stderr has no token; foreign Host 403", async () => {
    const { args, env } = greenlakeArgs();
    const p = await spawnProxy([...args, "--json", "--verbose"], env);
    const [name, entry] = Object.entries(p.ready.proxies)[0]!;
    expect(entry.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(entry.upstream).toBe(emu.providers.greenlake.baseUrl);
    expect(entry.healthUrl).toBe(`${entry.url}/.hpauth/healthz`);
    expect(entry.metricsUrl).toBe(`${entry.url}/.hpauth/metrics`);
    const res = await raw(`${entry.url}/api/v1/storage-systems?limit=2`, { headers: { authorization: "Bearer mine" } });
    expect(res.status).toBe(200);
    expect(res.json().items).toHaveLength(2);
    expect(
      (await raw(entry.url, { path: "/api/v1/storage-systems", headers: { host: "rebound.example" } })).status,
    ).toBe(403);
    expect((await raw(entry.healthUrl)).json()).toEqual({ status: "ok", profile: name });
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    expect(p.stderr()).toMatch(/GET \/api\/v1\/storage-systems\?limit=2 → 200/);
    expect(p.stderr()).toMatch(/→ 403/);
    expect(p.stderr()).not.toMatch(/eyJ/); // GreenLake tokens are JWTs
    expect(p.stderr()).not.toContain(emu.providers.greenlake.clientSecret!);
  });

  it("-p NAME -p NAME --port N: one listener per profile on N, N+1; allow-list from the command line", async () => {
    const gl = emu.providers.greenlake;
    const ar = emu.providers["aruba-central"];
    const cfg = join(dir, "config.toml");
    await writeFile(
      cfg,
      `[profiles.gl]
provider = "greenlake"
base_url = "${gl.baseUrl}"
client_id = "${gl.clientId}"
client_secret_env = "GL_SECRET"

[profiles.ar]
provider = "aruba-central"
base_url = "${ar.baseUrl}"
client_id = "${ar.clientId}"
client_secret_env = "A_SECRET"
username = "${ar.username}"
password_env = "A_PASSWORD"
customer_id = "${ar.customerId}"
`,
    );
    const port = await freePort();
    const p = await spawnProxy(
      [
        "-c",
        cfg,
        "-p",
        "ar",
        "-p",
        "gl",
        "--port",
        String(port),
        "--json",
        "--allow",
        "gl: GET /api/v1/storage-systems",
      ],
      { GL_SECRET: gl.clientSecret!, A_SECRET: ar.clientSecret!, A_PASSWORD: ar.password! },
    );
    expect(Object.keys(p.ready.proxies)).toEqual(["ar", "gl"]);
    expect(p.ready.proxies.ar!.url).toBe(`http://127.0.0.1:${port}`);
    expect(p.ready.proxies.gl!.url).toBe(`http://127.0.0.1:${port + 1}`);
    expect((await raw(`${p.ready.proxies.ar!.url}/monitoring/v2/aps`)).status).toBe(200);
    expect((await raw(`${p.ready.proxies.gl!.url}/api/v1/storage-systems`)).status).toBe(200);
    expect((await raw(`${p.ready.proxies.gl!.url}/api/v1/echo`)).status).toBe(403);
    const m = await raw(p.ready.proxies.gl!.metricsUrl);
    expect(m.text).toMatch(/hpauth_proxy_requests_total\{profile="ar",code_class="2xx"\} 1/);
    expect(m.text).toMatch(/hpauth_proxy_rejected_total\{profile="gl",reason="not_allowed"\} 1/);
    expect(m.text).toMatch(/process_resident_memory_bytes/);
    p.child.kill("SIGINT");
    expect(await p.exited).toBe(0);
  });

  it("proxy_allow in the config file (TOML, YAML): the profile's listener is limited; --allow for it replaces the file's rules", async () => {
    const gl = emu.providers.greenlake;
    const ar = emu.providers["aruba-central"];
    // One store for the runs: Aruba allows one login per 30 minutes per client id.
    const secrets = {
      GL_SECRET: gl.clientSecret!,
      A_SECRET: ar.clientSecret!,
      A_PASSWORD: ar.password!,
      HPAUTH_STORE_DIR: join(dir, "store-allow"),
    };
    const toml = join(dir, "allow.toml");
    await writeFile(
      toml,
      `[profiles.gl]
provider = "greenlake"
base_url = "${gl.baseUrl}"
client_id = "${gl.clientId}"
client_secret_env = "GL_SECRET"
proxy_allow = ["GET /api/v1/storage-systems"]

[profiles.ar]
provider = "aruba-central"
base_url = "${ar.baseUrl}"
client_id = "${ar.clientId}"
client_secret_env = "A_SECRET"
username = "${ar.username}"
password_env = "A_PASSWORD"
customer_id = "${ar.customerId}"
proxy_allow = ["GET /monitoring/v2/*"]
`,
    );
    const status = async (p: Running, profile: string, path: string, method = "GET") =>
      (await raw(`${p.ready.proxies[profile]!.url}${path}`, { method })).status;

    // The file's rules alone.
    const a = await spawnProxy(["-c", toml, "-p", "gl", "-p", "ar", "--json"], secrets);
    expect(await status(a, "gl", "/api/v1/storage-systems")).toBe(200);
    expect(await status(a, "gl", "/api/v1/echo")).toBe(403);
    expect(await status(a, "ar", "/monitoring/v2/aps")).toBe(200);
    expect(await status(a, "ar", "/monitoring/v1/clients/wireless")).toBe(403);
    a.child.kill("SIGTERM");
    expect(await a.exited).toBe(0);

    // --allow naming gl replaces gl's file rules; ar keeps its own.
    const b = await spawnProxy(
      ["-c", toml, "-p", "gl", "-p", "ar", "--json", "--allow", "gl: POST /api/v1/echo"],
      secrets,
    );
    const posted = await raw(`${b.ready.proxies.gl!.url}/api/v1/echo`, { method: "POST", body: "x" });
    expect(posted.status, posted.text).toBe(200);
    expect(await status(b, "gl", "/api/v1/storage-systems")).toBe(403);
    expect(await status(b, "ar", "/monitoring/v2/aps")).toBe(200);
    expect(await status(b, "ar", "/monitoring/v1/clients/wireless")).toBe(403);
    b.child.kill("SIGTERM");
    expect(await b.exited).toBe(0);

    // YAML, and a malformed rule: a usage error (exit 2) naming the file, the profile and the rule.
    const yaml = join(dir, "allow.yaml");
    await writeFile(
      yaml,
      `profiles:
  gl:
    provider: greenlake
    base_url: ${gl.baseUrl}
    client_id: ${gl.clientId}
    client_secret_env: GL_SECRET
    proxy_allow:
      - GET /api/v1/echo
`,
    );
    const c = await spawnProxy(["-c", yaml, "--json"], secrets);
    expect(await status(c, "gl", "/api/v1/echo")).toBe(200);
    expect(await status(c, "gl", "/api/v1/storage-systems")).toBe(403);
    c.child.kill("SIGTERM");
    expect(await c.exited).toBe(0);
    await writeFile(yaml, (await readFile(yaml, "utf8")).replace("GET /api/v1/echo", "GET api/no-slash"));
    const bad = await spawnProxy(["-c", yaml, "--json"], secrets);
    expect(await bad.exited).toBe(2);
    expect(bad.ready).toMatchObject({ error: { code: "CONFIG_INVALID" } });
    expect(JSON.stringify(bad.ready)).toContain(`profile \\"gl\\": proxy_allow: Allow rule \\"GET api/no-slash\\"`);
  });

  it("a non-loopback --host needs --allow-remote (exit 2)", async () => {
    const { args, env } = greenlakeArgs();
    const p = await spawnProxy([...args, "--host", "0.0.0.0", "--json"], env);
    expect(await p.exited).toBe(2);
    expect(JSON.stringify(p.ready)).toMatch(/allow-remote/);
  });

  it("a 100 MB body streamed each way: the proxy's peak RSS stays flat", async () => {
    const { args, env } = greenlakeArgs();
    const p = await spawnProxy([...args, "--json"], env);
    const url = Object.values(p.ready.proxies)[0]!.url;
    const chunk = Buffer.alloc(256 * 1024, 0x5a);
    const n = 400; // 100 MiB, chunked (no Content-Length)
    const body = () =>
      Readable.from(
        (function* () {
          for (let i = 0; i < n; i++) yield chunk;
        })(),
      );
    const hash = createHash("sha256");
    for (let i = 0; i < n; i++) hash.update(chunk);
    const sha256 = hash.digest("hex");
    // A first 100 MiB pass settles the heap (token, connections, JIT, the garbage collector's working set: ~30 MiB
    // whatever the size — 300 MiB gives the same); a second one must then not raise the peak.
    expect((await raw(`${url}/api/v1/storage-systems`)).status).toBe(200);
    const start = await rss(p.child.pid!);
    const first = await raw(`${url}/api/v1/echo`, { method: "PUT", body: body() });
    expect(first.json().body).toEqual({ bytes: n * chunk.length, sha256 });
    const before = await rss(p.child.pid!);
    const up = await raw(`${url}/api/v1/echo`, { method: "PUT", body: body() });
    expect(up.status).toBe(200);
    expect(up.json().body).toEqual({ bytes: n * chunk.length, sha256 });
    const afterUp = await rss(p.child.pid!);
    // Download 100 MiB through the proxy, counting bytes without keeping them.
    const down = await fetch(`${url}/api/v1/echo?respond_bytes=${n * chunk.length}`);
    let got = 0;
    for await (const c of down.body as unknown as AsyncIterable<Uint8Array>) got += c.length;
    expect(got).toBe(n * chunk.length);
    const afterDown = await rss(p.child.pid!);
    const peak = Math.max(afterUp.peak, afterDown.peak);
    // Buffering a body would add ≥ 100 MiB to the first pass; streaming adds the ~30 MiB said above.
    expect(peak - start.peak, `peak RSS ${start.peak >> 20} → ${peak >> 20} MiB`).toBeLessThan(64 * 1024 * 1024);
    const growth = peak - before.peak;
    // Buffering either body would add ≥ 100 MiB.
    expect(growth, `peak RSS ${before.peak >> 20} → ${afterUp.peak >> 20} → ${afterDown.peak >> 20} MiB`).toBeLessThan(
      32 * 1024 * 1024,
    );
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(0);
  }, 60_000);

  it("SIGTERM: stops accepting, the in-flight request finishes, exit 0", async () => {
    const { args, env } = greenlakeArgs();
    const p = await spawnProxy([...args, "--json"], env);
    const url = Object.values(p.ready.proxies)[0]!.url;
    expect((await raw(`${url}/api/v1/storage-systems`)).status).toBe(200);
    await emu.admin.fault({ provider: "greenlake", endpoint: "api", type: "delay", delayMs: 1500 });
    const slow = raw(`${url}/api/v1/storage-systems?limit=1`);
    await new Promise((r) => setTimeout(r, 400));
    p.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    await expect(raw(`${url}/api/v1/storage-systems`)).rejects.toThrow(/ECONNREFUSED/);
    const res = await slow;
    expect(res.status).toBe(200);
    expect(res.json().items).toHaveLength(1);
    expect(await p.exited).toBe(0);
  });
});
