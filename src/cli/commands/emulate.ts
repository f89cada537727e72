/**
 * `hpauth emulate`: runs the emulator (src/emulator) until SIGINT/SIGTERM, printing where everything is.
 *
 * Flags → RunEmulateOptions (mapped in ./emulate.def.ts):
 *   --host <addr>                 host      interface to bind (default 127.0.0.1)
 *   --port <n>                    port      0 (default): ephemeral ports; N: admin on N, providers on N+1…N+6
 *                                           (techpulse, wxp, greenlake, aruba-central, hpe-identity,
 *                                           greenlake-platform)
 *   --json                        json      one JSON ready line on stdout: {"providers": {...}, "adminUrl": "..."}
 *   --config <file>               config    JSON, TOML or YAML holding emulator options (credentials, lifetimes,
 *                                           quirks; see docs/emulator.md), either at the top level or under an
 *                                           `emulator` key/table (so the hpauth config file can carry them too)
 *   --verbose                     verbose   one line per request on stderr (method, path, status; no secrets)
 *   --techpulse-expires-in-ms     techpulseExpiresInMillis   answer expires_in like the seed's sample (1799999)
 *   --revoke-family-on-reuse      revokeFamilyOnRefreshReuse RFC 9700 refresh-token family revocation on replay
 *   --tls                         tls       HTTPS with a CA made for this run; the ready line adds "caFile"
 * Flags win over the config file. Logs go to stderr; stdout carries only the ready line or table.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { parse as parseToml } from "smol-toml";
import { parse as parseYaml } from "yaml";
import { EMULATED_PROVIDERS, type Emulator, type EmulatorOptions, startEmulator } from "../../emulator/index.js";
import { HpauthError } from "../../engine/errors.js";
import type { CommandIO } from "../io.js";

export interface RunEmulateOptions {
  host?: string;
  port?: number;
  json?: boolean;
  config?: string;
  verbose?: boolean;
  techpulseExpiresInMillis?: boolean;
  revokeFamilyOnRefreshReuse?: boolean;
  tls?: boolean;
}

const OPTION_KEYS = new Set<string>([
  "host",
  "port",
  "credentials",
  "lifetimes",
  "bodyLimitBytes",
  "techpulseExpiresInMillis",
  "techpulseLatestTokenOnly",
  "revokeFamilyOnRefreshReuse",
  "arubaNewTokenIntervalSeconds",
  "arubaApiPerDay",
  "arubaApiPerSecond",
  "tls",
]);

const invalid = (file: string, why: string) =>
  new HpauthError("CONFIG_INVALID", `Emulator config ${file}: ${why}`, {
    hint: "See docs/emulator.md for the options.",
  });

/** Reads emulator options from a JSON/TOML/YAML file: the `emulator` section if there is one, else the top level. */
export async function loadEmulatorConfig(file: string): Promise<EmulatorOptions> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new HpauthError("CONFIG_INVALID", `Cannot read emulator config ${file}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    const ext = extname(file).toLowerCase();
    data =
      ext === ".toml"
        ? parseToml(text)
        : ext === ".yaml" || ext === ".yml"
          ? parseYaml(text, { logLevel: "error" })
          : JSON.parse(text);
  } catch (e) {
    throw invalid(file, `not valid ${extname(file).slice(1) || "JSON"}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) throw invalid(file, "expected an object");
  const root = data as Record<string, unknown>;
  const section = root.emulator ?? root;
  if (!section || typeof section !== "object" || Array.isArray(section))
    throw invalid(file, "`emulator` must be a table");
  const out: Record<string, unknown> = {};
  // Other keys (profiles, when this is the hpauth config file) are not ours: ignored.
  for (const [k, v] of Object.entries(section)) if (OPTION_KEYS.has(k)) out[k] = v;
  const creds = out.credentials;
  if (creds !== undefined) {
    if (!creds || typeof creds !== "object") throw invalid(file, "credentials must be a table per provider");
    for (const [p, c] of Object.entries(creds)) {
      if (!EMULATED_PROVIDERS.includes(p as never)) throw invalid(file, `credentials: unknown provider ${p}`);
      for (const [k, v] of Object.entries(c as object)) {
        const list = k === "redirectUris" || k === "tenantWorkspaceIds";
        const ok = list ? Array.isArray(v) && v.every((x) => typeof x === "string") : typeof v === "string";
        if (!ok) throw invalid(file, `credentials.${p}.${k} must be ${list ? "a list of strings" : "a string"}`);
      }
    }
  }
  return out as EmulatorOptions;
}

function table(emu: Emulator): string {
  const rows: string[][] = [["PROVIDER", "BASE URL", "CLIENT ID", "USERNAME", "OTHER"]];
  for (const p of EMULATED_PROVIDERS) {
    const i = emu.providers[p];
    const other = [
      i.customerId ? `customerId ${i.customerId}` : "",
      i.redirectUri ? `redirectUri ${i.redirectUri}` : "",
      i.workspaceId ? `workspaceId ${i.workspaceId}` : "",
    ]
      .filter(Boolean)
      .join(", ");
    rows.push([p, i.baseUrl, i.clientId ?? "-", i.username ?? "-", other || "-"]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join("  ")
      .trimEnd(),
  );
  const ca = emu.caFile
    ? `CA certificate: ${emu.caFile} (trust it with ca_file = "${emu.caFile}" or NODE_EXTRA_CA_CERTS=${emu.caFile})\n`
    : "";
  return `${lines.join("\n")}\n\nAdmin API: ${emu.adminUrl}\n${ca}Secrets and passwords: run with --json to print them (they are demo credentials).\nPress Ctrl-C to stop.\n`;
}

export async function runEmulate(options: RunEmulateOptions, io: CommandIO): Promise<number> {
  const fromFile = options.config ? await loadEmulatorConfig(options.config) : {};
  const emulatorOptions: EmulatorOptions = {
    ...fromFile,
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.techpulseExpiresInMillis ? { techpulseExpiresInMillis: true } : {}),
    ...(options.revokeFamilyOnRefreshReuse ? { revokeFamilyOnRefreshReuse: true } : {}),
    ...(options.tls ? { tls: fromFile.tls && fromFile.tls !== true ? fromFile.tls : true } : {}),
    ...(options.verbose ? { log: (line: string) => io.stderr.write(`emulator: ${line}\n`) } : {}),
  };
  let emu: Emulator;
  try {
    emu = await startEmulator(emulatorOptions);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "EADDRINUSE" || err.code === "EACCES" || err.code === "EADDRNOTAVAIL") {
      throw new HpauthError("USAGE", `Cannot listen on ${emulatorOptions.host ?? "127.0.0.1"}: ${err.message}`, {
        hint: "Choose another --port (the emulator needs it and the six after it), or 0 for free ports.",
      });
    }
    if (e instanceof TypeError || e instanceof RangeError) throw new HpauthError("USAGE", `Emulator: ${e.message}`);
    throw e;
  }
  try {
    if (options.json) {
      const ready = { providers: emu.providers, adminUrl: emu.adminUrl, ...(emu.caFile ? { caFile: emu.caFile } : {}) };
      io.stdout.write(`${JSON.stringify(ready)}\n`);
    } else io.stdout.write(table(emu));
    if (!io.signal.aborted) {
      await new Promise<void>((resolve) => io.signal.addEventListener("abort", () => resolve(), { once: true }));
    }
  } finally {
    await emu.close();
  }
  if (!options.json) io.stderr.write("Emulator stopped.\n");
  return 0;
}
