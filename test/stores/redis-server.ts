/**
 * A real `redis-server` for tests and benchmarks: a free loopback port, its own temp data dir, stopped by PID.
 * Debian's redis-server (scripts/system-deps.sh installs it). TLS: `startRedis({ tls: true })` generates a CA and a
 * server certificate with openssl and listens with --tls-port only.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RedisServer {
  port: number;
  /** redis:// (or rediss://) URL of the server, no credentials. */
  url: string;
  dir: string;
  pid: () => number;
  /** PEM of the CA that signed the server certificate (TLS only). */
  ca?: string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port with the same data dir. */
  start(): Promise<void>;
  /** Stops it and removes its data dir. */
  dispose(): Promise<void>;
}

export interface StartRedisOptions {
  /** requirepass for the default user. */
  password?: string;
  /** Extra config lines as argv pairs, e.g. ["--appendonly", "yes"]. */
  args?: string[];
  tls?: boolean;
}

/**
 * Linux: the server gets SIGKILL when the thread that started it exits (setpriv --pdeathsig, then exec, same pid), so a
 * test process killed before its afterAll (Stryker ends a test runner whose mutant hangs; a crash) leaves no
 * redis-server behind. Every server here lives within one test file, in the thread that started it.
 */
const SETPRIV = (() => {
  if (process.platform !== "linux") return false;
  try {
    execFileSync("setpriv", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

/** EC P-256 keys: as good for a test as RSA, and made in a millisecond instead of a second of CPU (per TLS test). */
function generateCerts(dir: string): void {
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  ssl(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=hpauth test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
  );
  ssl(
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
  );
  const ext = "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  execFileSync("sh", ["-c", `printf '%s' '${ext}' > san.ext`], { cwd: dir });
  ssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "san.ext",
    "-out",
    "server.crt",
  );
}

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), "hpauth-redis-"));
  if (options.tls) generateCerts(dir);
  let port = 0;
  let proc: ChildProcess | undefined;

  const args = () => {
    const a = ["--bind", "127.0.0.1", "--dir", dir, "--save", "", "--daemonize", "no", "--protected-mode", "no"];
    if (options.tls) {
      a.push("--port", "0", "--tls-port", String(port), "--tls-cert-file", join(dir, "server.crt"));
      a.push("--tls-key-file", join(dir, "server.key"), "--tls-ca-cert-file", join(dir, "ca.crt"));
      a.push("--tls-auth-clients", "no");
    } else {
      a.push("--port", String(port));
    }
    if (options.password) a.push("--requirepass", options.password);
    return [...a, ...(options.args ?? [])];
  };

  const launch = async (): Promise<void> => {
    const p = SETPRIV
      ? spawn("setpriv", ["--pdeathsig", "KILL", "redis-server", ...args()], { stdio: ["ignore", "pipe", "pipe"] })
      : spawn("redis-server", args(), { stdio: ["ignore", "pipe", "pipe"] });
    proc = p;
    let out = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 15_000);
      const onData = (c: Buffer) => {
        out += c.toString();
        if (out.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      };
      p.stdout?.on("data", onData);
      p.stderr?.on("data", onData);
      p.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}): ${out.slice(-800)}`));
      });
    });
    p.stdout?.removeAllListeners("data");
    p.stderr?.removeAllListeners("data");
    p.stdout?.resume();
    p.stderr?.resume();
  };

  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (e) {
      // Another process took the port between our probe and redis-server's bind: pick another.
      if (attempt >= 4 || !/Address already in use/.test(String(e))) {
        await rm(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }

  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once("exit", () => r()));
    p.kill(signal);
    const t = setTimeout(() => p.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  };

  const server: RedisServer = {
    get port() {
      return port;
    },
    url: `${options.tls ? "rediss" : "redis"}://127.0.0.1:${port}`,
    dir,
    pid: () => proc?.pid ?? -1,
    stop,
    start: launch,
    async dispose() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  if (options.tls) server.ca = await readFile(join(dir, "ca.crt"), "utf8");
  return server;
}

/** Runs redis-cli against the server (for test setup such as ACL SETUSER); returns stdout. */
export function redisCli(server: RedisServer, args: string[], password?: string): string {
  const env = { ...process.env, ...(password ? { REDISCLI_AUTH: password } : {}) };
  return execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(server.port), ...args], { env, encoding: "utf8" });
}
