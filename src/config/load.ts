/**
 * Reading config files: TOML, YAML or JSON by extension, keys in camelCase or snake_case, every value checked
 * against the field list so an error names the file, the profile and the field.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { HpauthError } from "../engine/errors.js";
import { suggestion } from "../engine/suggest.js";
import { PROVIDER_IDS, type ProfileConfig } from "../engine/types.js";
import { camelCase, FIELD_BY_KEY, PROFILE_FIELDS, snakeCase } from "./fields.js";

export type ConfigFormat = "toml" | "yaml" | "json";

export interface HpauthConfig {
  /** The file it was read from (or would be written to). */
  path: string;
  /** False when no file exists at `path` (an empty config). */
  exists: boolean;
  format: ConfigFormat;
  defaultProfile?: string;
  /** Top-level `store*` keys: which token store the CLI uses (docs/stores.md). */
  store?: StoreConfig;
  profiles: Record<string, ProfileConfig>;
  /** `[git_credential."<host>"]`: which profile answers `hpauth git-credential` for a Git host (docs/git.md). */
  gitCredential?: Record<string, GitHostConfig>;
  /** Unknown keys and similar non-fatal findings, for stderr. */
  warnings: string[];
}

/**
 * `store = "redis://…"` and its settings. Secrets are never values here: the password and the encryption key come
 * from an environment variable named here or from a command's stdout.
 */
export interface StoreConfig {
  url?: string;
  passwordEnv?: string;
  passwordCommand?: string;
  prefix?: string;
  /** Path of a PEM file with the CA certificate(s) to trust for rediss://. */
  tlsCa?: string;
  keyEnv?: string;
  keyCommand?: string;
}

/** One Git host's entry: `"git.example.com" = "gl"` or `{ profile = "gl", username = "oauth2" }`. */
export interface GitHostConfig {
  profile: string;
  /** The user name git sends with the token as password (default x-access-token). */
  username?: string;
}

function parseGitCredential(path: string, value: unknown): Record<string, GitHostConfig> {
  if (!isPlainObject(value)) throw invalid(path, "", `"git_credential" must be a table of Git hosts`);
  const out: Record<string, GitHostConfig> = {};
  for (const [host, entry] of Object.entries(value)) {
    const where = `git_credential "${host}": `;
    const e = typeof entry === "string" ? { profile: entry } : entry;
    if (!isPlainObject(e) || typeof e.profile !== "string" || e.profile === "") {
      throw invalid(path, where, 'must name a profile: "<host>" = "<profile>" or { profile = "…", username = "…" }');
    }
    if (e.username !== undefined && (typeof e.username !== "string" || e.username === "")) {
      throw invalid(path, where, "username must be a non-empty string");
    }
    for (const k of Object.keys(e)) {
      if (k !== "profile" && k !== "username") throw invalid(path, where, `unknown key "${k}" (profile, username)`);
    }
    out[host.toLowerCase()] = {
      profile: e.profile,
      ...(typeof e.username === "string" ? { username: e.username } : {}),
    };
  }
  return out;
}

const STORE_KEYS: Record<string, keyof StoreConfig> = {
  store: "url",
  storePasswordEnv: "passwordEnv",
  storePasswordCommand: "passwordCommand",
  storePrefix: "prefix",
  storeTlsCa: "tlsCa",
  storeKeyEnv: "keyEnv",
  storeKeyCommand: "keyCommand",
};

export function formatFor(path: string): ConfigFormat {
  const ext = extname(path).toLowerCase();
  if (ext === ".toml") return "toml";
  if (ext === ".yaml" || ext === ".yml") return "yaml";
  if (ext === ".json") return "json";
  throw new HpauthError("CONFIG_INVALID", `Config file ${path}: unknown format "${ext || "(no extension)"}"`, {
    hint: "Name it config.toml, config.yaml, config.yml or config.json.",
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function invalid(path: string, where: string, message: string, hint?: string): HpauthError {
  return new HpauthError("CONFIG_INVALID", `Config file ${path}: ${where}${message}`, hint ? { hint } : {});
}

/**
 * Checks and normalises one value of a profile field (from a file, a flag or an environment variable: `raw`
 * strings from flags/env are converted; typed values from a file must already have the right type).
 */
export function coerceField(
  key: keyof ProfileConfig,
  value: unknown,
  fromString: boolean,
): { ok: true; value: unknown } | { ok: false; reason: string } {
  const field = FIELD_BY_KEY.get(key);
  if (!field) return { ok: false, reason: "is not a profile field" };
  switch (field.kind) {
    case "string": {
      // TOML dates (client_secret_created_at = 2025-01-31) arrive as Date objects: keep the calendar day.
      if (value instanceof Date && !Number.isNaN(value.getTime()))
        return { ok: true, value: value.toISOString().slice(0, 10) };
      if (typeof value !== "string") return { ok: false, reason: "must be a string" };
      if (key === "provider" && !(PROVIDER_IDS as readonly string[]).includes(value)) {
        return {
          ok: false,
          reason: `must be one of ${PROVIDER_IDS.join(", ")} (got "${value}"${suggestion(value, PROVIDER_IDS)})`,
        };
      }
      return { ok: true, value };
    }
    case "number": {
      const n = fromString && typeof value === "string" && value.trim() !== "" ? Number(value) : value;
      if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 65535) {
        return { ok: false, reason: "must be an integer between 0 and 65535" };
      }
      return { ok: true, value: n };
    }
    case "boolean": {
      if (typeof value === "boolean") return { ok: true, value };
      if (fromString && typeof value === "string") {
        const v = value.toLowerCase();
        if (["1", "true", "yes", "on"].includes(v)) return { ok: true, value: true };
        if (["0", "false", "no", "off"].includes(v)) return { ok: true, value: false };
      }
      return { ok: false, reason: "must be true or false" };
    }
    case "record": {
      if (fromString && typeof value === "string") {
        // `a=1&b=2` (URL query syntax) keeps values with spaces or `=` unambiguous.
        return { ok: true, value: Object.fromEntries(new URLSearchParams(value)) };
      }
      if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === "string")) {
        return { ok: false, reason: "must be a table of string values" };
      }
      return { ok: true, value: { ...value } };
    }
    case "list": {
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
        return { ok: false, reason: "must be a list of strings" };
      }
      return { ok: true, value: [...value] };
    }
  }
}

/** Normalises one profile table from a file (snake_case or camelCase keys). */
export function normalizeProfile(
  raw: Record<string, unknown>,
  path: string,
  name: string,
  warnings: string[],
): ProfileConfig {
  const out: Record<string, unknown> = {};
  for (const [rawKey, value] of Object.entries(raw)) {
    const key = camelCase(rawKey);
    const field = FIELD_BY_KEY.get(key);
    if (!field) {
      warnings.push(`Config file ${path}: profile "${name}": unknown field "${rawKey}" ignored`);
      continue;
    }
    if (key in out) {
      throw invalid(
        path,
        `profile "${name}": `,
        `field "${snakeCase(key)}" is given twice (as ${rawKey} and another spelling)`,
      );
    }
    const r = coerceField(field.key, value, false);
    if (!r.ok) throw invalid(path, `profile "${name}": `, `field "${rawKey}" ${r.reason}`);
    out[key] = r.value;
  }
  return out as ProfileConfig;
}

export type TextParser = (text: string) => unknown;

/**
 * The parser for one format, imported when a file of that format is read: the YAML library alone is ~260 KB of
 * code, and `hpauth token` with a TOML file (or none) should not load it.
 */
export async function loadParser(format: ConfigFormat): Promise<TextParser> {
  if (format === "toml") return (await import("smol-toml")).parse;
  if (format === "yaml") {
    // yaml is CommonJS: bundled with code splitting, its dynamic import has only `default` (module.exports).
    const m = (await import("yaml")) as typeof import("yaml") & { default?: typeof import("yaml") };
    const parse = (m.parse ?? m.default?.parse) as typeof import("yaml").parse;
    // logLevel "error": yaml's warnings quote the offending line, which may hold a secret.
    return ((text: string) => parse(text, { logLevel: "error" })) as TextParser;
  }
  return (await import("./json.js")).parseJson;
}

/** Where a parser failed (1-based line and column) and why, without any of the file's text. */
export interface ParseErrorPlace {
  line?: number;
  column?: number;
  reason: string;
}

/**
 * A parser's error, reduced to a place and a reason. Parser messages quote the offending line (smol-toml's code
 * block, yaml's excerpt, JSON.parse's `"…" is not valid JSON`), and that line could hold a secret: only the place
 * and the parser's own words are kept.
 */
export function describeParseError(e: unknown, format: ConfigFormat): ParseErrorPlace {
  const err = (e ?? {}) as {
    message?: unknown;
    line?: unknown;
    column?: unknown;
    linePos?: Array<{ line: number; col: number }>;
  };
  const first = String(err.message ?? e).split("\n")[0] ?? "";
  const reason =
    format === "toml"
      ? first.replace(/^Invalid TOML document:\s*/, "")
      : format === "yaml"
        ? first.replace(/\s+at line \d+, column \d+:?\s*$/, "").replace(/:$/, "")
        : first.replace(/,?\s*".*" is not valid JSON$/, " is not valid JSON");
  const at = err.linePos?.[0];
  if (at) return { line: at.line, column: at.col, reason };
  if (typeof err.line === "number") {
    return { line: err.line, ...(typeof err.column === "number" ? { column: err.column } : {}), reason };
  }
  return { reason };
}

/** Parses config text with the given format's parser and checks every field (see parse.ts for a sync wrapper). */
export function parseConfigWith(text: string, path: string, format: ConfigFormat, parse: TextParser): HpauthConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    const { line, column, reason } = describeParseError(e, format);
    throw invalid(
      path,
      line !== undefined ? `line ${line}${column !== undefined ? `, column ${column}` : ""}: ` : "",
      `cannot be parsed as ${format.toUpperCase()}: ${reason}`,
      "Fix the file at that place; its text is not shown here, as the line may hold a secret.",
    );
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isPlainObject(doc)) throw invalid(path, "", "the top level must be a table/object");
  const warnings: string[] = [];
  const config: HpauthConfig = { path, exists: true, format, profiles: {}, warnings };
  for (const [rawKey, value] of Object.entries(doc)) {
    const key = camelCase(rawKey);
    if (key === "defaultProfile") {
      if (typeof value !== "string") throw invalid(path, "", `"${rawKey}" must be a string`);
      config.defaultProfile = value;
    } else if (key === "profiles") {
      if (!isPlainObject(value)) throw invalid(path, "", `"profiles" must be a table of profiles`);
      for (const [name, p] of Object.entries(value)) {
        if (!isPlainObject(p)) throw invalid(path, `profile "${name}": `, "must be a table of fields");
        config.profiles[name] = normalizeProfile(p, path, name, warnings);
      }
    } else if (key in STORE_KEYS) {
      if (typeof value !== "string" || value === "") throw invalid(path, "", `"${rawKey}" must be a non-empty string`);
      config.store = { ...config.store, [STORE_KEYS[key] as keyof StoreConfig]: value };
    } else if (key === "gitCredential") {
      config.gitCredential = parseGitCredential(path, value);
    } else if (key !== "emulator") {
      // `emulator` belongs to `hpauth emulate --config` (its own options); anything else is a typo worth a word.
      warnings.push(`Config file ${path}: unknown top-level key "${rawKey}" ignored`);
    }
  }
  if (config.defaultProfile !== undefined && !(config.defaultProfile in config.profiles)) {
    throw invalid(
      path,
      "",
      `default_profile "${config.defaultProfile}" is not defined`,
      `Defined profiles: ${Object.keys(config.profiles).join(", ") || "(none)"}.`,
    );
  }
  // A warning, not an error: `profiles remove` of a profile a Git host names must not break every other command;
  // `hpauth git-credential` for that host then fails naming the profile.
  for (const [host, entry] of Object.entries(config.gitCredential ?? {})) {
    if (!(entry.profile in config.profiles)) {
      warnings.push(`Config file ${path}: git_credential "${host}": profile "${entry.profile}" is not defined`);
    }
  }
  return config;
}

/** The fields that hold a secret inline (not a reference to one), as `profiles.<name>.<snake_key>`. */
export function inlineSecrets(config: HpauthConfig): string[] {
  const found: string[] = [];
  for (const [name, profile] of Object.entries(config.profiles)) {
    for (const f of PROFILE_FIELDS) {
      if (f.secret && (profile as Record<string, unknown>)[f.key] !== undefined)
        found.push(`profiles.${name}.${snakeCase(f.key)}`);
    }
    // A proxy URL with a password in it (http://user:pass@host:port, network.md) holds a secret inline too.
    const proxy = (profile as Record<string, unknown>).proxy;
    if (typeof proxy === "string" && /^(?:[a-z][\w+.-]*:\/\/)?[^/@]*:[^/@]*@/i.test(proxy))
      found.push(`profiles.${name}.proxy`);
  }
  return found;
}

/**
 * The warning for a config file that holds a secret inline and that others may read (`mode`: its permission bits,
 * undefined when unknown), or undefined when there is nothing to say.
 */
export function secretsExposedWarning(config: HpauthConfig, mode: number | undefined): string | undefined {
  const secrets = inlineSecrets(config);
  if (secrets.length === 0 || mode === undefined || (mode & 0o077) === 0) return undefined;
  const who = mode & 0o007 ? "everyone on this machine" : "its group";
  // Where each kind of secret can live instead: the credentials in *_env / *_command fields, a proxy's password in
  // HTTPS_PROXY (network.md).
  const proxies = secrets.filter((s) => s.endsWith(".proxy")).length;
  const move = [
    ...(proxies < secrets.length ? ["move the secret to client_secret_env / password_env"] : []),
    ...(proxies > 0 ? ["give the proxy with its password in HTTPS_PROXY instead"] : []),
  ].join(", or ");
  return `Warning: ${config.path} holds a secret (${secrets.join(", ")}) and is open to ${who} (mode ${mode.toString(8).padStart(4, "0")}). Run: chmod 600 ${config.path} (or ${move}).`;
}

/** Reads the config file; a missing file is an empty config unless `mustExist`. */
export async function loadConfigFile(path: string, mustExist: boolean): Promise<HpauthConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !mustExist) return missingConfig(path);
    throw new HpauthError(
      "CONFIG_INVALID",
      `Config file ${path}: ${code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? "error"})`}`,
      { hint: "Check --config / HPAUTH_CONFIG, or create it with `hpauth profiles add`.", cause: e },
    );
  }
  const format = formatFor(path);
  return parseConfigWith(text, path, format, await loadParser(format));
}

/** The empty config that stands for a missing file at `path`. */
export function missingConfig(path: string): HpauthConfig {
  return { path, exists: false, format: safeFormat(path), profiles: {}, warnings: [] };
}

function safeFormat(path: string): ConfigFormat {
  try {
    return formatFor(path);
  } catch {
    return "toml";
  }
}
