/**
 * `hpauth request [-X METHOD] PATH|URL [-d DATA | -d @FILE | -d @-] [-H 'Name: value']… [-i] [--paginate]`: one
 * authenticated API call in the spirit of `gh api`. A path resolves against the profile's API base; the token comes
 * from the engine and a refused one is renewed once and the call retried once (manager.fetch). The body goes to
 * stdout (pretty JSON on a terminal, the bytes as they came otherwise); `-i` puts the status line and headers first.
 * Exit 6 when the API's final answer is an HTTP error status (its body still printed, the token masked out of it).
 */
import { readFile } from "node:fs/promises";
import { ExitCode, HpauthError, isHpauthError } from "../../engine/errors.js";
import { connectFailure, networkCode } from "../../engine/http.js";
import type { TokenManager } from "../../engine/manager.js";
import { nextPageUrl, pagingStyle } from "../../engine/paging.js";
import { clearProgress, makeManager, openStore, resolveCliProfile } from "../context.js";
import type { CommandIO } from "../io.js";
import type { GlobalOptions } from "../options.js";
import { terminalAuthorizer } from "./token.js";

export interface RequestOptions extends GlobalOptions {
  /** Path (against the API base) or absolute URL on the profile's API origin. */
  target: string;
  /** Default GET, or POST with a body. */
  method?: string;
  /** `-d`: the body; `@file` reads a file, `@-` stdin. */
  data?: string;
  /** `-H 'Name: value'`, repeatable. */
  headers?: string[];
  /** `-i`: status line and response headers before the body. */
  include?: boolean;
  /** `--paginate`: follow the provider's paging (offset/limit, startIndex/count) and print every page. */
  paginate?: boolean;
}

/** Stops a runaway pager (an API that ignores the offset) before it fills the disk. */
const MAX_PAGES = 10_000;

async function readBody(data: string, io: CommandIO): Promise<Buffer> {
  if (data === "@-") {
    const chunks: Buffer[] = [];
    for await (const c of io.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
    return Buffer.concat(chunks);
  }
  if (data.startsWith("@")) {
    const file = data.slice(1);
    try {
      return await readFile(file);
    } catch (e) {
      throw new HpauthError("USAGE", `Cannot read the request body from ${file}: ${(e as Error).message}`, {
        hint: "`-d @FILE` reads FILE, `-d @-` reads stdin, anything else is sent as it is.",
      });
    }
  }
  return Buffer.from(data, "utf8");
}

function parseHeaders(lines: string[]): Headers {
  const h = new Headers();
  for (const line of lines) {
    const i = line.indexOf(":");
    const name = i > 0 ? line.slice(0, i).trim() : "";
    if (!name || /\s/.test(name)) {
      throw new HpauthError("USAGE", `-H "${line.slice(0, 40)}": expected "Name: value"`, {
        hint: "For example -H 'Accept: application/json'.",
      });
    }
    if (/^(authorization|cookie)$/i.test(name)) {
      throw new HpauthError("USAGE", `-H ${name}: hpauth request sends the profile's token itself`, {
        hint: "Drop the header; to send your own credentials use curl directly.",
      });
    }
    try {
      h.append(name, line.slice(i + 1).trim());
    } catch {
      throw new HpauthError("USAGE", `-H ${name}: not a valid header`);
    }
  }
  return h;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function isJsonType(res: Response): boolean {
  const t = res.headers.get("content-type") ?? "";
  return /^application\/(?:[\w.+-]+\+)?json\b/i.test(t) || /\bjson\b/i.test(t.split(";")[0] ?? "");
}

function statusBlock(res: Response): string {
  const lines = [`HTTP/1.1 ${res.status} ${res.statusText}`.trimEnd()];
  res.headers.forEach((v, k) => {
    lines.push(`${k}: ${v}`);
  });
  return `${lines.join("\r\n")}\r\n\r\n`;
}

export async function runRequest(options: RequestOptions, io: CommandIO): Promise<number> {
  if (!options.target) throw new HpauthError("USAGE", "hpauth request needs a PATH or URL");
  const headers = parseHeaders(options.headers ?? []);
  const body = options.data !== undefined ? await readBody(options.data, io) : undefined;
  const method = (options.method ?? (body !== undefined ? "POST" : "GET")).toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw new HpauthError("USAGE", `-X ${options.method}: not an HTTP method`);
  if (body !== undefined && (method === "GET" || method === "HEAD")) {
    throw new HpauthError("USAGE", `-X ${method} cannot carry a body (-d)`, { hint: "Use -X POST, PUT or PATCH." });
  }
  if (body !== undefined && !headers.has("content-type") && isJson(body.toString("utf8"))) {
    headers.set("content-type", "application/json");
  }
  if (!headers.has("accept")) headers.set("accept", "application/json, */*;q=0.5");

  const { profile } = await resolveCliProfile(options, io);
  const store = openStore(options, io);
  try {
    const authorizer = terminalAuthorizer(io, profile);
    const manager = makeManager(options, io, profile, store, authorizer ? { authorizer } : {});
    let url = manager.apiUrl(options.target);
    const style = options.paginate ? pagingStyle(manager.profile.provider) : undefined;
    if (options.paginate && !style) {
      throw new HpauthError("USAGE", `--paginate: the ${manager.profile.provider} API documents no paging`, {
        hint: "Drop --paginate; the answer comes in one piece.",
      });
    }
    for (let page = 1; ; page++) {
      const { res, used } = await send(manager, url, { method, headers, body }, options, io);
      clearProgress(io);
      const ok = res.ok || (res.status >= 300 && res.status < 400);
      const more = style && ok && page < MAX_PAGES;
      const parsed = await print(res, used, options, io, !!more);
      if (!ok) {
        // gh api's way: the body on stdout for scripts, one line on stderr for the person (path only: no query).
        if (!options.quiet)
          io.stderr.write(
            `hpauth: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""} from ${url.origin}${url.pathname}\n`,
          );
        return ExitCode.HTTP_ERROR;
      }
      if (!more) return ExitCode.OK;
      const next = nextPageUrl(style, url, parsed);
      if (!next) return ExitCode.OK;
      url = next;
    }
  } finally {
    await store.close?.();
    clearProgress(io);
  }
}

/**
 * The engine's 401 path, done here rather than by manager.fetch so the command knows which tokens it sent (to mask
 * them out of an error body): send with getToken(); on isAuthFailure, renewRejected once and send once more.
 */
async function send(
  manager: TokenManager,
  url: URL,
  req: { method: string; headers: Headers; body: Buffer | undefined },
  options: RequestOptions,
  io: CommandIO,
): Promise<{ res: Response; used: string[] }> {
  const init = (token: string): RequestInit => {
    const headers = new Headers(req.headers);
    headers.set("authorization", `Bearer ${token}`);
    return { method: req.method, headers, ...(req.body !== undefined ? { body: req.body } : {}), signal: io.signal };
  };
  const first = await manager.getToken({ signal: io.signal });
  const res = await fetchOrExplain(manager, url, init(first.accessToken));
  if (!(await manager.isAuthFailure(res))) return { res, used: [first.accessToken] };
  await res.body?.cancel().catch(() => {});
  if (options.verbose) {
    clearProgress(io);
    io.stderr.write(
      `[hpauth] unauthorized: HTTP ${res.status} from ${url.origin}: renewing the token once and retrying\n`,
    );
  }
  const fresh = await manager.renewRejected(first.accessToken, { signal: io.signal });
  // One retry, never a loop: whatever this answers is the final answer.
  return {
    res: await fetchOrExplain(manager, url, init(fresh.accessToken)),
    used: [first.accessToken, fresh.accessToken],
  };
}

async function fetchOrExplain(manager: TokenManager, url: URL, init: RequestInit): Promise<Response> {
  try {
    return await manager.transport(url, init);
  } catch (e) {
    if (init.signal?.aborted) throw new HpauthError("CANCELLED", "Cancelled", { cause: e });
    if (isHpauthError(e)) throw e; // the network's own (an unreadable ca_file, a proxy setting that is no URL)
    const code = networkCode(e);
    const route = manager.network?.route(url);
    const known = code
      ? connectFailure(url, code, e, { what: "API request", field: "api_base_url", route })
      : undefined;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new HpauthError(
      "NETWORK_ERROR",
      known?.message ?? `Cannot reach ${url.origin}: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
      {
        hint: known?.hint ?? "Check the network, the profile's api_base_url and any HTTPS_PROXY setting.",
        cause: e,
      },
    );
  }
}

/** Writes one response; returns its parsed JSON when the caller pages (it needs the body to find the next page). */
async function print(
  res: Response,
  used: string[],
  options: RequestOptions,
  io: CommandIO,
  needJson: boolean,
): Promise<unknown> {
  if (options.include) io.stdout.write(statusBlock(res));
  const tty = (io.stdout as { isTTY?: boolean }).isTTY === true;
  const json = isJsonType(res);
  // Success bodies stream through as they come, unless they must be parsed (paging) or pretty-printed.
  if (res.ok && !needJson && !(tty && json)) {
    if (res.body) for await (const chunk of res.body) await write(io, chunk);
    return undefined;
  }
  let text = await res.text();
  // Some APIs echo the refused token in their error body (HPE Identity does): never print it.
  if (!res.ok) text = maskTokens(text, used);
  let parsed: unknown;
  if (json || needJson) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (tty && parsed !== undefined) await write(io, `${JSON.stringify(parsed, null, 2)}\n`);
  else await write(io, text.length > 0 && needJson && !text.endsWith("\n") ? `${text}\n` : text);
  return parsed;
}

function maskTokens(text: string, tokens: string[]): string {
  let out = text;
  for (const t of tokens) if (t.length >= 8) out = out.split(t).join("[redacted]");
  // Any other JWT-shaped value goes too (a token the API names that is not one we sent).
  return out.replace(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g, "[redacted]");
}

function write(io: CommandIO, chunk: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    io.stdout.write(chunk, (e) => (e ? reject(e) : resolve()));
  });
}
