/** Proxy test plumbing: the engine harness (emulator + a clock the engine follows) and raw HTTP to the proxy. */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Readable } from "node:stream";
import type { EmulatorOptions } from "../../src/emulator/index.js";
import { type ProxyOptions, type RunningProxy, startProxy } from "../../src/proxy/index.js";
import { type Harness, startHarness } from "../engine/helpers.js";

export { type Harness, startHarness };

export interface ProxyRun {
  proxy: RunningProxy;
  url: (profile?: string) => string;
}

export async function proxyFor(
  targets: Array<{ name: string; manager: ReturnType<Harness["manager"]> }>,
  extra: Partial<ProxyOptions> = {},
): Promise<ProxyRun> {
  const proxy = await startProxy({ targets, processMetrics: false, ...extra });
  return { proxy, url: (p = targets[0]!.name) => proxy.proxies[p]!.url };
}

/**
 * A request with full control of the request line and headers (fetch and undici refuse Host, Connection,
 * Keep-Alive… and normalise `..` away), over node:http without keep-alive.
 */
export function raw(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer | Readable; path?: string } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string; json: () => Json }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        method: opts.method ?? "GET",
        path: opts.path ?? `${u.pathname}${u.search}`,
        headers: opts.headers ?? {},
        agent: false,
        setHost: !opts.headers || !Object.keys(opts.headers).some((k) => k.toLowerCase() === "host"),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
      },
    );
    req.on("error", reject);
    if (opts.body instanceof Readable) opts.body.pipe(req);
    else req.end(opts.body);
  });
}

// biome-ignore lint/suspicious/noExplicitAny: test assertions walk parsed JSON freely
export type Json = Record<string, any>;

export const EMU_OPTIONS: EmulatorOptions = { arubaApiPerSecond: 100_000, arubaApiPerDay: 1_000_000 };
