/**
 * `hpauth doctor [-p NAME] [--json]`: checks one profile's whole path to a token, in the order it is walked — the
 * config file (found, valid, permissions), the profile, its secrets (resolved, never printed), the token store
 * (reachable, lockable, permissions), the proxy and CA settings, DNS + TCP + TLS to the identity and API origins
 * (through the proxy when one applies), the clock against the server's Date header, and what the store says about
 * the token (the warnings `status` shows). Read-only: no token is requested or refreshed.
 *
 * Each check is pass / warn / fail with a fix; exit 7 (ExitCode.CHECK_FAILED) when one failed, else 0. `--json`
 * prints the whole report on stdout in both cases.
 */
import { X509Certificate } from "node:crypto";
import { lookup } from "node:dns/promises";
import { readdir, readFile, stat } from "node:fs/promises";
import { connect, isIP } from "node:net";
import { snakeCase } from "../../config/fields.js";
import { type HpauthConfig, inlineSecrets, loadConfigFile } from "../../config/load.js";
import { locateConfig } from "../../config/paths.js";
import { resolveProfile } from "../../config/resolve.js";
import { rfc3339 } from "../../engine/dates.js";
import { formatDuration } from "../../engine/duration.js";
import { ExitCode, isHpauthError } from "../../engine/errors.js";
import { connectFailure, networkCode } from "../../engine/http.js";
import type { TokenManager } from "../../engine/manager.js";
import { type Network, showProxy } from "../../engine/network.js";
import { getProvider } from "../../engine/providers/index.js";
import { redact } from "../../engine/redact.js";
import { resolveSecret } from "../../engine/secrets.js";
import type { TokenStore } from "../../stores/types.js";
import { clearProgress, hostPlatform, makeManager, openStore, progressEnabled, showProgress } from "../context.js";
import { painter, useColor } from "../format.js";
import type { CommandIO } from "../io.js";
import type { GlobalOptions } from "../options.js";

export interface DoctorOptions extends GlobalOptions {
  /** Per network check (default 10 s). */
  timeoutSeconds?: number;
}

export type CheckStatus = "pass" | "warn" | "fail" | "skip";

export interface Check {
  id: string;
  status: CheckStatus;
  message: string;
  /** What to do (warn / fail). */
  fix?: string;
  [detail: string]: unknown;
}

/** Clock skew against a server: beyond these, JWT `exp` checks and token lifetimes go wrong. */
const SKEW_WARN_SECONDS = 60;
const SKEW_FAIL_SECONDS = 600;

class Report {
  readonly checks: Check[] = [];
  constructor(
    private readonly io: CommandIO,
    private readonly progress: boolean,
  ) {}
  add(c: Check): Check {
    // Redacted once more on the way out: a server's words or a path could carry anything.
    const clean: Check = { ...c, message: redact(c.message), ...(c.fix ? { fix: redact(c.fix) } : {}) };
    this.checks.push(clean);
    return clean;
  }
  step(text: string): void {
    if (this.progress) showProgress(this.io, `${text}…`);
  }
  get failed(): boolean {
    return this.checks.some((c) => c.status === "fail");
  }
}

function errorCheck(id: string, e: unknown, extra: Partial<Check> = {}): Check {
  if (isHpauthError(e)) {
    return { id, status: "fail", message: e.message, ...(e.hint ? { fix: e.hint } : {}), ...extra };
  }
  return { id, status: "fail", message: e instanceof Error ? e.message : String(e), ...extra };
}

const modeText = (mode: number) => mode.toString(8).padStart(4, "0");

async function checkConfig(options: DoctorOptions, io: CommandIO, report: Report) {
  const platform = hostPlatform();
  const loc = locateConfig(options.config, io.env, platform.platform, platform.homedir);
  report.step("Reading the config file");
  let config: HpauthConfig;
  try {
    config = await loadConfigFile(loc.path, loc.origin !== "default");
  } catch (e) {
    report.add(errorCheck("config", e, { path: loc.path }));
    return undefined;
  }
  if (!config.exists) {
    // Not yet a failure: a profile given by flags or HPAUTH_* needs no file (decided once the profile resolves).
    report.add({ id: "config", status: "skip", message: `no config file at ${loc.path}`, path: loc.path });
  } else {
    const n = Object.keys(config.profiles).length;
    report.add({
      id: "config",
      status: "pass",
      message: `${config.path}: valid ${config.format ?? ""}, ${n} profile${n === 1 ? "" : "s"}`.replace("  ", " "),
      path: config.path,
    });
    for (const w of config.warnings) report.add({ id: "config", status: "warn", message: w });
    if (platform.platform !== "win32") {
      const mode = (await stat(config.path)).mode & 0o777;
      const secrets = inlineSecrets(config);
      if (mode & 0o022) {
        report.add({
          id: "config_permissions",
          status: "fail",
          message: `${config.path} is writable by ${mode & 0o002 ? "everyone" : "its group"} (mode ${modeText(mode)}): whoever can edit it chooses the commands hpauth runs for secrets and where tokens go`,
          fix: `chmod 600 ${config.path}`,
          mode: modeText(mode),
        });
      } else if (secrets.length > 0 && mode & 0o044) {
        report.add({
          id: "config_permissions",
          status: "warn",
          message: `${config.path} holds a secret (${secrets.join(", ")}) and is readable by ${mode & 0o004 ? "everyone" : "its group"} (mode ${modeText(mode)})`,
          fix: `chmod 600 ${config.path} (or move the secret to client_secret_env / password_env / *_command)`,
          mode: modeText(mode),
        });
      } else {
        report.add({
          id: "config_permissions",
          status: "pass",
          message: `mode ${modeText(mode)}`,
          mode: modeText(mode),
        });
      }
    }
  }
  return config;
}

async function checkSecrets(manager: TokenManager, io: CommandIO, report: Report) {
  for (const field of ["clientSecret", "password"] as const) {
    const ref = manager.profile[field];
    if (!ref) continue;
    const key = snakeCase(field);
    report.step(`Resolving ${key}`);
    const where =
      ref.kind === "inline"
        ? "written in the profile"
        : ref.kind === "env"
          ? `from the environment variable ${ref.source}`
          : `from the command ${ref.source}`;
    try {
      await resolveSecret(ref, { env: io.env, profile: manager.profile.name, signal: io.signal });
      if (ref.kind === "inline") {
        report.add({
          id: `secret_${key}`,
          status: "warn",
          message: `${key}: ${where}`,
          fix: `Prefer ${key}_env or ${key}_command, so the secret is not stored in the config file or shell history.`,
          source: ref.kind,
        });
      } else
        report.add({ id: `secret_${key}`, status: "pass", message: `${key}: resolved ${where}`, source: ref.kind });
    } catch (e) {
      report.add(errorCheck(`secret_${key}`, e, { source: ref.kind }));
    }
  }
}

async function checkStore(store: TokenStore, manager: TokenManager, report: Report, timeoutMs: number) {
  const where = store.location ?? (store as { dir?: string }).dir ?? store.kind;
  const dir = (store as { dir?: string }).dir;
  if (store.kind === "file" && dir && process.platform !== "win32") {
    const open: string[] = [];
    let dirMode: number | undefined;
    try {
      dirMode = (await stat(dir)).mode & 0o777;
      for (const name of await readdir(dir)) {
        const m = (await stat(`${dir}/${name}`).catch(() => undefined))?.mode;
        if (m !== undefined && m & 0o077) open.push(`${name} (${modeText(m & 0o777)})`);
      }
    } catch {
      // Not there yet: the first write creates it 0700.
    }
    if (dirMode === undefined) {
      report.add({ id: "store_permissions", status: "pass", message: `${dir} does not exist yet (created 0700)` });
    } else if (dirMode & 0o077 || open.length > 0) {
      report.add({
        id: "store_permissions",
        status: "warn",
        message: `token files open to others: ${[...(dirMode & 0o077 ? [`${dir} (${modeText(dirMode)})`] : []), ...open].join(", ")}`,
        fix: `chmod 700 ${dir} && chmod 600 ${dir}/*`,
      });
    } else {
      report.add({ id: "store_permissions", status: "pass", message: `${dir}: 0700, token files 0600` });
    }
  }
  report.step("Reading and locking the token store");
  const started = Date.now();
  try {
    await store.withLock(manager.key, async () => {}, { timeoutMs });
    report.add({
      id: "store",
      status: "pass",
      message: `${store.kind} store ${where}: reachable, lock taken and released in ${Date.now() - started} ms`,
      kind: store.kind,
    });
    return true;
  } catch (e) {
    report.add(errorCheck("store", e, { kind: store.kind }));
    return false;
  }
}

async function checkCa(manager: TokenManager, io: CommandIO, report: Report) {
  const files: Array<[string, string]> = [];
  if (manager.profile.caFile) files.push(["ca_file", manager.profile.caFile]);
  if (io.env.NODE_EXTRA_CA_CERTS) files.push(["NODE_EXTRA_CA_CERTS", io.env.NODE_EXTRA_CA_CERTS]);
  for (const [id, file] of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      report.add({
        id: id.toLowerCase(),
        status: "fail",
        message: `${id}: cannot read ${file} (${(e as NodeJS.ErrnoException).code})`,
        fix: `Point ${id} at a readable PEM file of the CA certificate(s).`,
      });
      continue;
    }
    const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (pems.length === 0) {
      report.add({
        id: id.toLowerCase(),
        status: "fail",
        message: `${id}: ${file} holds no PEM certificate`,
        fix: "Export the CA certificate as PEM (-----BEGIN CERTIFICATE-----).",
      });
      continue;
    }
    const now = Date.now();
    const certs = pems.map((p) => new X509Certificate(p));
    const expired = certs.filter((c) => Date.parse(c.validTo) < now).length;
    const cn = (c: X509Certificate) => /CN=([^\n,]+)/.exec(c.subject)?.[1] ?? c.subject.split("\n")[0];
    const names = certs.slice(0, 3).map(cn).join("; ") + (certs.length > 3 ? `; … ${certs.length - 3} more` : "");
    // An expired root among many (a system bundle) is harmless; a file whose every certificate expired is not.
    const allExpired = expired === certs.length;
    report.add({
      id: id.toLowerCase(),
      status: allExpired ? "warn" : "pass",
      message: `${id}: ${file}: ${certs.length} certificate${certs.length === 1 ? "" : "s"} (${names})${expired > 0 ? `, ${expired} expired` : ""}`,
      ...(allExpired ? { fix: "Replace the expired CA certificate(s) with current ones." } : {}),
      certificates: certs.length,
      ...(expired > 0 ? { expired } : {}),
    });
  }
}

interface Endpoint {
  id: "identity" | "api";
  url: URL;
}

function endpoints(manager: TokenManager): Endpoint[] {
  const p = manager.profile;
  const out: Endpoint[] = [];
  const identity = p.tokenUrl ?? p.issuer ?? p.baseUrl;
  if (identity) out.push({ id: "identity", url: new URL(identity) });
  if (p.apiBaseUrl) {
    const api = new URL(p.apiBaseUrl);
    if (!out.some((e) => e.url.origin === api.origin)) out.push({ id: "api", url: api });
  }
  return out;
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(Object.assign(new Error(`no answer within ${formatDuration(timeoutMs / 1000)}`), { code: "ETIMEDOUT" }));
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve(Date.now() - started);
    });
    socket.once("error", reject);
  });
}

async function checkEndpoint(
  ep: Endpoint,
  network: Network,
  report: Report,
  timeoutMs: number,
): Promise<{ skewSeconds?: number; server?: string } | undefined> {
  const { url } = ep;
  const route = network.route(url);
  const proxy = route.proxy;
  report.add({
    id: `${ep.id}_route`,
    status: "pass",
    message: proxy
      ? `${url.origin}: through the proxy ${showProxy(proxy.url)} (${proxy.from})`
      : route.bypass
        ? `${url.origin}: direct (NO_PROXY entry "${route.bypass}")`
        : `${url.origin}: direct (no proxy configured)`,
    url: url.origin,
    ...(proxy ? { proxy: showProxy(proxy.url), proxy_from: proxy.from } : {}),
  });
  // With a proxy, this machine resolves and connects to the proxy; the target's name is the proxy's to resolve.
  const hop = proxy ? proxy.url : url;
  const host = hop.hostname.replace(/^\[|\]$/g, "");
  const port = Number(hop.port) || (hop.protocol === "https:" ? 443 : 80);
  const hopName = proxy ? `the proxy ${hop.host}` : hop.host;
  report.step(`Resolving ${host}`);
  if (!isIP(host)) {
    try {
      // getaddrinfo has no timeout of its own (a dead resolver takes tens of seconds): --timeout bounds it.
      let timer: NodeJS.Timeout | undefined;
      const addrs = await Promise.race([
        lookup(host, { all: true }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(Object.assign(new Error("timeout"), { code: "ETIMEOUT" })), timeoutMs);
          timer.unref?.();
        }),
      ]).finally(() => clearTimeout(timer));
      report.add({
        id: `${ep.id}_dns`,
        status: "pass",
        message: `${host} → ${addrs.map((a) => a.address).join(", ")}${proxy ? " (the proxy resolves the target's name)" : ""}`,
        host,
      });
    } catch (e) {
      report.add({
        id: `${ep.id}_dns`,
        status: "fail",
        message: `cannot resolve ${hopName} (${(e as NodeJS.ErrnoException).code})`,
        fix: proxy
          ? `Check ${proxy.from === "proxy" ? "the profile's proxy" : proxy.from}: the proxy's host name.`
          : "Check the host name in the profile, and this machine's DNS (behind a corporate proxy: set HTTPS_PROXY).",
        host,
      });
      return undefined;
    }
  }
  report.step(`Connecting to ${hopName}`);
  try {
    const ms = await tcpConnect(host, port, timeoutMs);
    report.add({ id: `${ep.id}_tcp`, status: "pass", message: `connected to ${hopName} in ${ms} ms`, elapsed_ms: ms });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    report.add({
      id: `${ep.id}_tcp`,
      status: "fail",
      message: `cannot connect to ${hopName}:${port} (${code})`,
      fix: proxy
        ? `Check ${proxy.from === "proxy" ? "the profile's proxy" : proxy.from} (host and port), or put ${url.hostname} in NO_PROXY if it is reachable directly.`
        : "Check the host and port in the profile, that the service runs, and any firewall; if this network needs a proxy, set HTTPS_PROXY.",
    });
    return undefined;
  }
  const tlsId = url.protocol === "https:" ? `${ep.id}_tls` : `${ep.id}_http`;
  report.step(`${url.protocol === "https:" ? "TLS and HTTP" : "HTTP"} to ${url.origin}`);
  const started = Date.now();
  try {
    const res = await network.fetch(new URL("/", url), {
      method: "GET",
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    const ended = Date.now();
    await res.body?.cancel().catch(() => {});
    report.add({
      id: tlsId,
      status: "pass",
      message: `${url.protocol === "https:" ? "TLS handshake and certificate OK; " : ""}HTTP ${res.status} from ${url.origin} in ${ended - started} ms`,
      status_code: res.status,
      elapsed_ms: ended - started,
    });
    const date = Date.parse(res.headers.get("date") ?? "");
    if (Number.isNaN(date)) return {};
    // The Date header has one-second resolution and was made somewhere between sending and receiving.
    return { skewSeconds: Math.round((date + 500 - (started + ended) / 2) / 1000), server: url.origin };
  } catch (e) {
    if (isHpauthError(e)) {
      report.add(errorCheck(tlsId, e));
      return undefined;
    }
    const code = networkCode(e);
    const known = code
      ? connectFailure(url, code, e, { what: `${ep.id === "api" ? "API" : "identity service"} check`, route })
      : undefined;
    const cause = (e as { cause?: { message?: string } }).cause;
    report.add({
      id: tlsId,
      status: "fail",
      message: known?.message ?? `${url.origin}: ${code ?? cause?.message ?? (e as Error).message ?? "request failed"}`,
      ...(known?.hint ? { fix: known.hint } : {}),
      ...(code ? { code } : {}),
    });
    return undefined;
  }
}

function checkClock(report: Report, skew: { skewSeconds?: number; server?: string } | undefined) {
  if (skew?.skewSeconds === undefined) {
    report.add({ id: "clock", status: "skip", message: "no server Date header to compare the clock with" });
    return;
  }
  const s = skew.skewSeconds;
  const abs = Math.abs(s);
  const how = abs <= 1 ? "in step with" : `${formatDuration(abs)} ${s > 0 ? "behind" : "ahead of"}`;
  const status: CheckStatus = abs > SKEW_FAIL_SECONDS ? "fail" : abs > SKEW_WARN_SECONDS ? "warn" : "pass";
  report.add({
    id: "clock",
    status,
    message: `this machine's clock is ${how} ${skew.server} (its Date header)`,
    ...(status !== "pass"
      ? {
          fix: "Synchronise the clock (NTP: timedatectl set-ntp true, or chrony): token expiry and JWT exp checks use it.",
        }
      : {}),
    skew_seconds: s,
  });
}

async function checkToken(manager: TokenManager, report: Report) {
  const s = await manager.status();
  const left = s.expiresInSeconds;
  const state =
    s.state === "none"
      ? "no token stored yet"
      : s.state === "expired"
        ? `the stored access token has expired${s.hasRefreshToken ? " (the next use refreshes it)" : ""}`
        : `access token ${s.state}, ${formatDuration(Math.max(0, left ?? 0))} left`;
  // A browser login is what an empty store needs for TechPulse and oauth2 authorization_code (the provider says).
  const interactive = getProvider(manager.profile.provider).interactive(manager.profile);
  const needsLogin = (s.state === "none" || s.state === "expired") && !s.hasRefreshToken && interactive;
  report.add({
    id: "token",
    status: needsLogin ? "warn" : "pass",
    message: `${state}${s.hasRefreshToken && s.refreshTokenAgeSeconds !== undefined ? `; refresh token ${formatDuration(s.refreshTokenAgeSeconds)} old` : ""}`,
    ...(needsLogin ? { fix: `hpauth login -p ${manager.profile.name}` } : {}),
    state: s.state,
    ...(s.expiresAt ? { expires_at: rfc3339(s.expiresAt) } : {}),
    ...(s.nextLoginAllowedAt ? { next_login_allowed_at: rfc3339(s.nextLoginAllowedAt, "up") } : {}),
  });
  // The warnings `hpauth status` shows (TechPulse secret age, an idle Aruba refresh token, a lost refresh answer).
  for (const w of s.warnings) report.add({ id: "token_warning", status: "warn", message: w });
  if (s.lastError) {
    const at = s.lastError.at.getTime();
    const since = [s.obtainedAt, s.lastRefreshAt, s.lastLoginAt].some((d) => d !== undefined && d.getTime() > at);
    if (!since) {
      report.add({
        id: "token_last_error",
        status: "warn",
        message: `last error (${rfc3339(s.lastError.at)}): ${s.lastError.code}: ${s.lastError.message}`,
        code: s.lastError.code,
      });
    }
  }
}

export async function runDoctor(options: DoctorOptions, io: CommandIO): Promise<number> {
  const report = new Report(io, progressEnabled(options, io));
  const timeoutMs = (options.timeoutSeconds ?? 10) * 1000;
  let profileName: string | undefined;
  let provider: string | undefined;
  let configPath: string | null = null;
  try {
    const config = await checkConfig(options, io, report);
    if (config?.exists) configPath = config.path;
    if (config) {
      let manager: TokenManager | undefined;
      report.step("Resolving the profile");
      try {
        const resolved = resolveProfile({
          config,
          flags: options.fields,
          env: io.env,
          profileName: options.profile,
        });
        for (const w of resolved.warnings) report.add({ id: "profile", status: "warn", message: w });
        profileName = resolved.profile.name;
        provider = resolved.profile.provider;
        const store = openStore(options, io, undefined, config);
        try {
          manager = makeManager(options, io, resolved.profile, store);
          const from = resolved.adHoc
            ? "flags and environment"
            : `${config.path}${Object.values(resolved.sources).some((s) => s !== "file") ? " with flags/environment on top" : ""}`;
          report.add({
            id: "profile",
            status: "pass",
            message: `profile "${manager.profile.name}" (${manager.profile.provider}) from ${from}: valid`,
          });
          if (!config.exists) {
            // The file's absence is the answer only when nothing else gave a profile (it did here).
            const c = report.checks.find((x) => x.id === "config");
            if (c) c.message = `${c.message}: not needed, the profile comes from flags and environment`;
          }
          await checkSecrets(manager, io, report);
          const storeOk = await checkStore(store, manager, report, timeoutMs);
          const network = manager.network;
          if (network) {
            try {
              network.settings();
              await checkCa(manager, io, report);
              let skew: { skewSeconds?: number; server?: string } | undefined;
              for (const ep of endpoints(manager)) {
                const r = await checkEndpoint(ep, network, report, timeoutMs);
                if (r?.skewSeconds !== undefined && skew === undefined) skew = r;
              }
              checkClock(report, skew);
            } catch (e) {
              report.add(errorCheck("proxy", e));
            } finally {
              await network.close();
            }
          }
          if (storeOk) await checkToken(manager, report);
        } finally {
          await store.close?.();
        }
      } catch (e) {
        report.add(errorCheck(manager ? "store" : "profile", e));
        const c = report.checks.find((x) => x.id === "config");
        if (c && c.status === "skip" && !manager) {
          c.status = "fail";
          c.fix = `Create one with \`hpauth profiles add NAME\`, or give the profile by flags (--provider, --base-url, …) or HPAUTH_* variables.`;
        }
      }
    }
  } finally {
    clearProgress(io);
  }
  const counts = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const c of report.checks) counts[c.status]++;
  if (options.json) {
    io.stdout.write(
      `${JSON.stringify({
        ok: !report.failed,
        profile: profileName ?? null,
        provider: provider ?? null,
        config: configPath,
        checked_at: rfc3339(Date.now()),
        summary: counts,
        checks: report.checks,
      })}\n`,
    );
  } else {
    const paint = painter(useColor(options, io));
    const mark = { pass: paint.green("✓"), warn: paint.yellow("!"), fail: paint.red("✗"), skip: paint.dim("-") };
    let out = profileName ? `${paint.bold(`hpauth doctor: profile ${profileName}`)} (${provider})\n` : "";
    for (const c of report.checks) {
      out += `${mark[c.status]} ${c.id.padEnd(20)} ${c.message}\n`;
      if (c.fix && c.status !== "pass") out += `  ${" ".repeat(20)} ${paint.dim("→")} ${c.fix}\n`;
    }
    out += `${counts.pass} passed, ${counts.warn} warning${counts.warn === 1 ? "" : "s"}, ${counts.fail} failed${counts.skip ? `, ${counts.skip} skipped` : ""}\n`;
    io.stdout.write(out);
  }
  return report.failed ? ExitCode.CHECK_FAILED : ExitCode.OK;
}
