/**
 * `hpauth proxy`: one local reverse-proxy listener per profile (src/proxy), until SIGINT/SIGTERM, which stop
 * accepting, let in-flight requests finish and exit 0. stdout carries only the ready line (or table); the access log
 * (--verbose) and warnings go to stderr.
 */
import { readFile } from "node:fs/promises";
import { HpauthError } from "../../engine/errors.js";
import { type AllowRule, parseAllowFile, parseAllowRule } from "../../proxy/allow.js";
import { isLoopbackHost } from "../../proxy/headers.js";
import { type ProxyTarget, type RunningProxy, startProxy } from "../../proxy/server.js";
import { loadCliConfig, makeManager, openStore, resolveCliProfile, warn } from "../context.js";
import type { CommandIO } from "../io.js";
import type { GlobalOptions } from "../options.js";

export interface RunProxyOptions extends GlobalOptions {
  host?: string;
  /** First listener's port; the next profile gets port + 1, … */
  port?: number;
  allowRemote?: boolean;
  allow?: string[];
  allowFile?: string;
  drainTimeoutSeconds?: number;
}

async function allowRules(options: RunProxyOptions): Promise<AllowRule[]> {
  const rules = (options.allow ?? []).map(parseAllowRule);
  if (options.allowFile) {
    let text: string;
    try {
      text = await readFile(options.allowFile, "utf8");
    } catch (e) {
      throw new HpauthError("USAGE", `Cannot read --allow-file ${options.allowFile}: ${(e as Error).message}`);
    }
    rules.push(...parseAllowFile(text, options.allowFile));
  }
  return rules;
}

/** A profile's `proxy_allow` rules; a malformed one names the config file and the profile. */
function fileRules(list: readonly string[] | undefined, profile: string, path: string): AllowRule[] {
  return (list ?? []).map((text) => {
    let rule: AllowRule;
    try {
      rule = parseAllowRule(text);
    } catch (e) {
      if (!(e instanceof HpauthError)) throw e;
      throw new HpauthError("CONFIG_INVALID", `Config file ${path}: profile "${profile}": proxy_allow: ${e.message}`, {
        ...(e.hint ? { hint: e.hint } : {}),
      });
    }
    if (rule.profile !== undefined) {
      throw new HpauthError(
        "CONFIG_INVALID",
        `Config file ${path}: profile "${profile}": proxy_allow rule "${text}" names a profile; the rules of proxy_allow are this profile's own`,
        { hint: `Write it without the "${rule.profile}: " prefix, under the profile it is meant for.` },
      );
    }
    return rule;
  });
}

function table(proxy: RunningProxy): string {
  const rows = Object.entries(proxy.proxies);
  const w = Math.max(7, ...rows.map(([n]) => n.length));
  const lines = rows.map(([name, p]) => `${name.padEnd(w)}  ${p.url}  →  ${p.upstream}`);
  const first = rows[0]?.[1];
  return `${"profile".padEnd(w)}  listening              upstream\n${lines.join("\n")}\n\nHealth: ${first?.healthUrl ?? ""}  readiness: …/.hpauth/readyz  metrics: …/.hpauth/metrics\nPress Ctrl-C to stop.\n`;
}

export async function runProxy(options: RunProxyOptions, io: CommandIO): Promise<number> {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopbackHost(host)) {
    if (!options.allowRemote) {
      throw new HpauthError("USAGE", `--host ${host} is not a loopback address: the proxy would hand out API access`, {
        hint: "Keep the default 127.0.0.1, or add --allow-remote if every host that can reach it may use the token.",
      });
    }
    warn(
      io,
      options,
      `Warning: listening on ${host}: anyone who can reach this address can call the APIs as these profiles.`,
    );
  }
  const rules = await allowRules(options);
  const config = await loadCliConfig(options, io);
  const names = options.profiles ?? (options.profile !== undefined ? [options.profile] : [undefined]);
  const known = new Set(names);
  for (const r of rules) {
    if (r.profile !== undefined && !known.has(r.profile))
      throw new HpauthError("USAGE", `Allow rule "${r.source}" names profile "${r.profile}", which is not proxied`);
  }
  if (new Set(names).size !== names.length) throw new HpauthError("USAGE", "A profile is given twice with -p");
  const store = openStore(options, io);
  try {
    const targets: ProxyTarget[] = [];
    const listenerRules: AllowRule[] = [];
    for (const [i, name] of names.entries()) {
      const { profile } = await resolveCliProfile(
        { ...options, ...(name !== undefined ? { profile: name } : {}) },
        io,
        config,
      );
      const manager = makeManager(options, io, profile, store);
      // The API calls take the profile's network as its token requests do: its own `proxy` / `ca_file`, or the
      // environment's HTTPS_PROXY / NO_PROXY (read from the same injected env). An unreadable ca_file fails here.
      const dispatcher = await manager.network?.dispatcher();
      targets.push({
        name: profile.name,
        manager,
        ...(dispatcher ? { dispatcher } : {}),
        ...(options.port !== undefined ? { port: options.port === 0 ? 0 : options.port + i } : {}),
      });
      // Command-line rules that apply to this listener replace its profile's `proxy_allow` (flags > file, as for
      // every profile field); a listener no command-line rule names keeps the file's rules.
      const fromFlags = rules.filter(
        (r) => r.profile === undefined || r.profile === name || r.profile === profile.name,
      );
      const chosen = fromFlags.length > 0 ? fromFlags : fileRules(profile.proxyAllow, profile.name, config.path);
      listenerRules.push(...chosen.map((r) => ({ ...r, profile: profile.name })));
    }
    let proxy: RunningProxy;
    try {
      proxy = await startProxy({
        targets,
        host,
        ...(options.allowRemote ? { allowRemote: true } : {}),
        allow: listenerRules,
        env: io.env,
        ...(options.drainTimeoutSeconds !== undefined ? { drainTimeoutMs: options.drainTimeoutSeconds * 1000 } : {}),
        ...(options.verbose ? { log: (line: string) => io.stderr.write(`${line}\n`) } : {}),
      });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === "EADDRINUSE" || err.code === "EACCES" || err.code === "EADDRNOTAVAIL") {
        throw new HpauthError("USAGE", `Cannot listen on ${host}: ${err.message}`, {
          hint: "Choose another --port (each profile takes the next one), or leave it out for free ports.",
        });
      }
      throw e;
    }
    try {
      if (options.json) io.stdout.write(`${JSON.stringify({ proxies: proxy.proxies })}\n`);
      else io.stdout.write(table(proxy));
      if (!io.signal.aborted) {
        await new Promise<void>((resolve) => io.signal.addEventListener("abort", () => resolve(), { once: true }));
      }
    } finally {
      await proxy.close();
    }
    if (!options.json && !options.quiet) io.stderr.write("Proxy stopped.\n");
    return 0;
  } finally {
    await store.close?.();
  }
}
