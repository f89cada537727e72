/**
 * `hpauth curl [-p NAME] -- <curl args>`: the system curl with the profile's Authorization header, which is never in
 * curl's argv (other users' `ps` would show it). The header goes in a curl config (`-K`): on curl's stdin, a pipe,
 * when the curl arguments do not read stdin themselves (`-d @-`, `-T -`, `-K -`, …); otherwise in a 0600 file in a
 * fresh 0700 directory, deleted when curl exits. (A pipe on fd 3 as `/dev/fd/3` does not work: Node's pipes to a
 * child are socketpairs, which cannot be opened by path.) curl's stdout, stderr and exit status pass through.
 *
 * Where the token goes: every URL in the arguments must be on the profile's API origin (a path starting with `/`
 * is completed with the API base), else hpauth refuses before curl starts. On redirects (`-L`) curl itself sends
 * custom Authorization headers only to the original host (curl ≥ 7.58; ≥ 7.83 also drops them on a port or
 * scheme change); `--location-trusted`, which would lift that, is refused. No 401 retry here: curl's output is
 * the caller's the moment it arrives (use `hpauth request`, or `hpauth proxy`, for that).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HpauthError } from "../../engine/errors.js";
import type { TokenManager } from "../../engine/manager.js";
import { runChild } from "../child.js";
import { clearProgress, makeManager, openStore, resolveCliProfile } from "../context.js";
import type { CommandIO } from "../io.js";
import type { GlobalOptions } from "../options.js";
import { terminalAuthorizer } from "./token.js";

export interface CurlOptions extends GlobalOptions {
  /** curl's arguments (after `--`). */
  args: string[];
  /** The token must stay valid at least this many seconds. */
  minTtl?: number;
  /** curl executable (default `curl` on PATH; HPAUTH_CURL in the environment). */
  curl?: string;
}

/** curl options that take no value, so the argument after them is a URL (the common ones; see curl --help all). */
const BOOLEAN_LONG = new Set(
  "--silent --show-error --location --verbose --include --head --insecure --fail --fail-with-body --fail-early --compressed --globoff --get --no-buffer --no-progress-meter --progress-bar --raw --http1.0 --http1.1 --http2 --http2-prior-knowledge --http3 --ipv4 --ipv6 --remote-name --remote-name-all --remote-header-name --no-keepalive --tcp-nodelay --path-as-is --styled-output --no-styled-output --disable --anyauth --basic --digest --ntlm --negotiate --no-sessionid --no-alpn --no-npn --tr-encoding --trace-time --ssl-reqd --ssl --list-only --create-dirs --parallel --parallel-immediate --next --retry-all-errors --retry-connrefused --junk-session-cookies --suppress-connect-headers --xattr --metalink --manual --help --version --sslv2 --sslv3 --tlsv1 --tlsv1.0 --tlsv1.1 --tlsv1.2 --tlsv1.3 --proxy-insecure --cert-status --doh-insecure --false-start --ignore-content-length --post301 --post302 --post303 --no-clobber --remove-on-error".split(
    " ",
  ),
);
/** Short options that take no value (curl allows them grouped: `-sSL`). */
const BOOLEAN_SHORT = new Set("#:012346BGIJLMNORSVZafghijklnpqsv".split(""));

function takesValue(arg: string): boolean {
  if (arg.startsWith("--")) return !arg.includes("=") && !BOOLEAN_LONG.has(arg) && !arg.startsWith("--no-");
  // -X POST, -sSo file: a group takes a value if its last letter does.
  const letters = arg.slice(1);
  if (letters.length === 0) return false;
  for (let i = 0; i < letters.length; i++) {
    const ch = letters[i] as string;
    if (!BOOLEAN_SHORT.has(ch)) return i === letters.length - 1; // `-XPOST`: the value is attached
  }
  return false;
}

/** Reads curl's stdin itself: `-d @-`, `--data-binary @-`, `-T -`, `-K -`, `-F 'f=@-'`, … */
function readsStdin(args: string[]): boolean {
  return args.some((a) => a === "-" || a.endsWith("@-") || a.endsWith("=-") || /^-[A-Za-z]+-$/.test(a));
}

/** The API URLs in curl's arguments, paths completed; throws if any URL is not the profile's API origin. */
export function checkCurlArgs(args: string[], manager: Pick<TokenManager, "apiUrl" | "profile">): string[] {
  const out: string[] = [];
  let urls = 0;
  let pendingOption: string | undefined; // the option whose value the next argument is
  let afterDashDash = false;
  for (const arg of args) {
    if (pendingOption !== undefined) {
      // An option's value: a URL only for --url, or when it has an http(s) scheme (-e https://… is refused too,
      // rather than guessing which options send requests).
      if ((pendingOption === "-H" || pendingOption === "--header") && /^\s*(authorization|cookie)\s*[:;]/i.test(arg)) {
        throw new HpauthError("USAGE", "hpauth curl sends the profile's Authorization header itself", {
          hint: "Drop -H Authorization/Cookie, or run curl directly with your own credentials.",
        });
      }
      const isUrl = pendingOption === "--url" || /^https?:\/\//i.test(arg);
      out.push(isUrl ? check(arg) : arg);
      if (isUrl) urls++;
      pendingOption = undefined;
      continue;
    }
    if (!afterDashDash && arg.startsWith("-") && arg.length > 1) {
      if (/^--location-trusted$/i.test(arg)) {
        throw new HpauthError(
          "USAGE",
          "hpauth curl refuses --location-trusted: it sends the token to any redirect host",
          {
            hint: "Use -L (curl keeps the Authorization header to the original host).",
          },
        );
      }
      if (arg === "--") afterDashDash = true;
      else if (arg.startsWith("--url=")) {
        out.push(`--url=${check(arg.slice(6))}`);
        urls++;
        continue;
      } else if (takesValue(arg)) pendingOption = arg;
      out.push(arg);
      continue;
    }
    // A positional argument is a URL to curl (a bare host gets http://).
    out.push(check(arg));
    urls++;
  }
  if (urls === 0) {
    throw new HpauthError(
      "USAGE",
      "hpauth curl needs the API URL (or a /path on the API base) among curl's arguments",
      {
        hint: `For example: hpauth curl -p ${manager.profile.name} -- -sS /path`,
      },
    );
  }
  return out;

  function check(arg: string): string {
    if (arg.startsWith("/")) return manager.apiUrl(arg).toString();
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(arg) ? arg : `http://${arg}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw new HpauthError("USAGE", `hpauth curl: "${arg.slice(0, 60)}" is not a URL hpauth can check`, {
        hint: "Write URLs in full (https://…) or as a /path on the profile's API base; no curl URL globs.",
      });
    }
    manager.apiUrl(url); // throws USAGE for another origin: the token goes only to the profile's API
    return arg;
  }
}

/** A value in curl config syntax: quoted, with \" and \\ escaped. */
function curlQuote(value: string): string {
  return `"${value.replace(/["\\]/g, "\\$&")}"`;
}

/**
 * The curl config: the header, and the profile's proxy and ca_file (in the config too, not argv: a proxy URL may
 * carry a password). curl reads HTTPS_PROXY / NO_PROXY from its environment itself. `cacert` makes curl trust that
 * file alone, as curl's --cacert does (curl does not read NODE_EXTRA_CA_CERTS).
 */
export function curlConfig(token: string, profile: { proxy?: string; caFile?: string } = {}): string {
  let out = `header = ${curlQuote(`Authorization: Bearer ${token}`)}\n`;
  if (profile.proxy) out += `proxy = ${curlQuote(profile.proxy)}\n`;
  if (profile.caFile) out += `cacert = ${curlQuote(profile.caFile)}\n`;
  return out;
}

export async function runCurl(options: CurlOptions, io: CommandIO): Promise<number> {
  const { profile } = await resolveCliProfile(options, io);
  const store = openStore(options, io);
  let token: string;
  let args: string[];
  let network: { proxy?: string; caFile?: string } = {};
  try {
    const authorizer = terminalAuthorizer(io, profile);
    const manager = makeManager(options, io, profile, store, authorizer ? { authorizer } : {});
    args = checkCurlArgs(options.args, manager);
    const t = await manager.getToken({
      ...(options.minTtl !== undefined ? { minTtlSeconds: options.minTtl } : {}),
      signal: io.signal,
    });
    token = t.accessToken;
    network = {
      ...(manager.profile.proxy ? { proxy: manager.profile.proxy } : {}),
      ...(manager.profile.caFile ? { caFile: manager.profile.caFile } : {}),
    };
  } finally {
    await store.close?.();
    clearProgress(io);
  }
  const curl = options.curl ?? io.env.HPAUTH_CURL ?? "curl";
  const config = curlConfig(token, network);
  const env = { ...io.env };
  if (!readsStdin(args)) {
    // The config on curl's stdin (`-K -`): nothing on disk, nothing in argv.
    return runChild(curl, ["-K", "-", ...args], {
      env,
      stdio: ["pipe", "inherit", "inherit"],
      stdinIsTTY: io.stdinIsTTY,
      stderr: io.stderr,
      onSpawn: (child) => {
        child.stdin?.on("error", () => {}); // curl may exit before reading (bad option): not our error
        child.stdin?.end(config);
      },
    });
  }
  const dir = await mkdtemp(join(tmpdir(), "hpauth-curl-"));
  try {
    const file = join(dir, "auth.curlrc");
    await writeFile(file, config, { mode: 0o600, flag: "wx" });
    return await runChild(curl, ["-K", file, ...args], {
      env,
      stdio: "inherit",
      stdinIsTTY: io.stdinIsTTY,
      stderr: io.stderr,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
