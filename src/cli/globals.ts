/**
 * The global options, declared once: registered on the commander program (registerGlobalOptions), mirrored for the
 * commander-free parser (globalFastFlags, same flags, same order), and collected into GlobalOptions
 * (globalOptions). Each is tagged with a GlobalGroup so a subcommand's --help lists the ones that apply to it.
 */
import type { Command, Option } from "commander";
import { flagName, PROFILE_FIELDS } from "../config/fields.js";
import { HpauthError } from "../engine/errors.js";
import type { Commander, GlobalGroup } from "./command.js";
import type { GlobalOptions } from "./options.js";

/**
 * `--store` / HPAUTH_STORE: `file`, `memory`, or a `redis://` / `rediss://` URL. Checked here at parse level;
 * whether this build can open that store is decided where stores are created (context.ts openStore).
 */
export function parseStore(value: string, source = "--store"): string {
  if (value === "file" || value === "memory") return value;
  if (/^rediss?:\/\/./i.test(value)) return value;
  throw new HpauthError("USAGE", `${source} must be file, memory or a redis:// / rediss:// URL (got "${value}")`, {
    hint: "e.g. --store memory, or --store redis://127.0.0.1:6379/0",
  });
}

/**
 * The store the CLI opens: `--store`, else HPAUTH_STORE, else the config file's `store`, else `file` (one rule for
 * context.ts openStore and the cached-token probe).
 */
export function storeKind(
  options: Pick<GlobalOptions, "store">,
  env: Readonly<Record<string, string | undefined>>,
  config?: { store?: { url?: string } },
): string {
  const fromEnv = env.HPAUTH_STORE;
  const fromConfig = config?.store?.url;
  return (
    options.store ??
    (fromEnv ? parseStore(fromEnv, "HPAUTH_STORE") : fromConfig ? parseStore(fromConfig, "store") : "file")
  );
}

/** A global flag for the commander-free parser: commander's attribute name and what it takes. */
export interface GlobalFastFlag {
  key: string;
  kind: "true" | "false" | "value" | "record";
  parse?: (value: string) => unknown;
}

interface GlobalSpec {
  flags: string;
  /** The flag's spellings (`-p`, `--profile`), what the commander-free parser matches. */
  names: readonly string[];
  description: string;
  group: GlobalGroup;
  key: string;
  kind: GlobalFastFlag["kind"];
  parse?: (value: string) => unknown;
}

/** Every global option, in declaration order (commander takes the first that matches). */
function specs(): GlobalSpec[] {
  const out: GlobalSpec[] = [
    {
      flags: "-c, --config <path>",
      names: ["-c", "--config"],
      description: "config file (default: HPAUTH_CONFIG or the platform config dir)",
      group: "config",
      key: "config",
      kind: "value",
    },
    {
      flags: "-p, --profile <name>",
      names: ["-p", "--profile"],
      description: "profile to use (default: HPAUTH_PROFILE, default_profile, or the only one)",
      group: "profile",
      key: "profile",
      kind: "value",
    },
    {
      flags: "--json",
      names: ["--json"],
      description: "machine-readable output on stdout",
      group: "output",
      key: "json",
      kind: "true",
    },
    {
      flags: "-v, --verbose",
      names: ["-v", "--verbose"],
      description: "engine events (redacted) on stderr",
      group: "output",
      key: "verbose",
      kind: "true",
    },
    {
      flags: "-q, --quiet",
      names: ["-q", "--quiet"],
      description: "no warnings or progress on stderr",
      group: "output",
      key: "quiet",
      kind: "true",
    },
    {
      flags: "--no-color",
      names: ["--no-color"],
      description: "no colours",
      group: "output",
      key: "color",
      kind: "false",
    },
    {
      flags: "--store <kind>",
      names: ["--store"],
      description: "token store: file (default), memory, or a redis:// / rediss:// URL (default: HPAUTH_STORE)",
      group: "store",
      key: "store",
      kind: "value",
      parse: (v) => parseStore(v),
    },
    {
      flags: "--store-dir <dir>",
      names: ["--store-dir"],
      description: "token store directory (default: HPAUTH_STORE_DIR or the platform's state dir)",
      group: "store",
      key: "storeDir",
      kind: "value",
    },
  ];
  for (const field of PROFILE_FIELDS) {
    if (field.fileOnly) continue;
    const flag = flagName(field.key);
    // commander's attribute name of `--client-secret-env` is the field's own key, clientSecretEnv.
    const base = { group: "fields" as const, key: field.key };
    if (field.kind === "boolean") {
      out.push({ ...base, flags: flag, names: [flag], description: field.description, kind: "true" });
      const no = `--no-${flag.slice(2)}`;
      out.push({ ...base, flags: no, names: [no], description: `do not ${field.key}`, kind: "false" });
    } else if (field.kind === "record") {
      out.push({
        ...base,
        flags: `${flag} <key=value...>`,
        names: [flag],
        description: field.description,
        kind: "record",
      });
    } else {
      out.push({ ...base, flags: `${flag} <value>`, names: [flag], description: field.description, kind: "value" });
    }
  }
  return out;
}

/** Which group each global commander Option belongs to (for the per-command help filter). */
export const globalGroupOf = new WeakMap<Option, GlobalGroup>();

export const FIELDS_HEADING = "Profile fields (override the config file and HPAUTH_* variables):";

/** Adds the global options to the program. */
export function registerGlobalOptions(program: Command, { Option }: Commander): void {
  for (const s of specs()) {
    const option = new Option(s.flags, s.description);
    if (s.group === "fields") option.helpGroup(FIELDS_HEADING);
    if (s.parse) {
      const parse = s.parse;
      option.argParser((v: string) => parse(v));
    }
    // A repeated -p is kept whole (`hpauth proxy -p a -p b`): one → a string as before, more → an array.
    if (s.key === "profile") {
      option.argParser((v: string, prev: string | string[] | undefined) => (prev === undefined ? v : [prev, v].flat()));
    }
    if (s.kind === "record") {
      option.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    }
    globalGroupOf.set(option, s.group);
    program.addOption(option);
  }
}

let fastFlags: Map<string, GlobalFastFlag> | undefined;

/** The same flags for the commander-free parser: `-p` and `--profile` → { key: "profile", kind: "value" }, … */
export function globalFastFlags(): Map<string, GlobalFastFlag> {
  if (fastFlags) return fastFlags;
  const m = new Map<string, GlobalFastFlag>();
  for (const s of specs()) {
    for (const name of s.names) {
      if (!m.has(name)) m.set(name, { key: s.key, kind: s.kind, ...(s.parse ? { parse: s.parse } : {}) });
    }
  }
  fastFlags = m;
  return m;
}

const GLOBAL_KEYS = new Set(["config", "profile", "json", "verbose", "quiet", "color", "store", "storeDir"]);
const FIELD_KEYS = new Set(PROFILE_FIELDS.filter((f) => !f.fileOnly).map((f) => f.key as string));

/** Whether a parsed attribute is a global option (not one of the command's own flags). */
export function isGlobalKey(key: string): boolean {
  return GLOBAL_KEYS.has(key) || FIELD_KEYS.has(key);
}

/** Parsed attributes (either parser) → GlobalOptions. */
export function globalOptions(raw: Record<string, unknown>): GlobalOptions {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined || !FIELD_KEYS.has(k)) continue;
    // Repeated --token-params a=1 --token-params b=2 → "a=1&b=2" for the record coercion.
    fields[k] = Array.isArray(v) ? v.map((p) => new URLSearchParams(String(p)).toString()).join("&") : v;
  }
  const options: GlobalOptions = {
    json: raw.json === true,
    verbose: raw.verbose === true,
    quiet: raw.quiet === true,
    color: raw.color !== false,
    fields,
  };
  for (const k of ["config", "profile", "store", "storeDir"] as const) {
    if (typeof raw[k] === "string") options[k] = raw[k] as string;
  }
  if (Array.isArray(raw.profile)) {
    options.profiles = raw.profile.map(String);
    options.profile = options.profiles[options.profiles.length - 1] as string;
  }
  return options;
}

export function defaultGlobalOptions(): GlobalOptions & Record<string, unknown> {
  return { json: false, verbose: false, quiet: false, color: true, fields: {} };
}

export const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    internal error (a bug: please report it)
  2    usage or configuration error (bad flag, missing profile field, unreadable secret)
  3    authentication refused or login required (bad credentials, revoked grant, consent denied)
  4    rate-limited (the message, and retry_at with --json, say when the next attempt is allowed)
  5    network, server or token-store failure (unreachable, 5xx after retries, malformed response,
       lock timeout, --timeout passed, a damaged or inaccessible token store)
  6    request: the API answered with an HTTP error status (the body is still printed)
  7    doctor: a check failed (the report says which and what to do)
  130  cancelled (Ctrl-C)

Environment:
  HPAUTH_CONFIG       config file (default: $XDG_CONFIG_HOME/hpauth/config.toml or the platform's config dir)
  HPAUTH_PROFILE      profile to use
  HPAUTH_STORE        token store (file, memory, or a redis:// URL)
  HPAUTH_STORE_DIR    token store directory
  HPAUTH_<FIELD>      any profile field, e.g. HPAUTH_CLIENT_ID, HPAUTH_BASE_URL, HPAUTH_CLIENT_SECRET_ENV
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY   proxy for identity and API requests (or a profile's proxy)
  NODE_EXTRA_CA_CERTS                 extra CA certificates (or a profile's ca_file); check with hpauth doctor
  Precedence: flags > environment > config file.

Examples:
  $ hpauth demo                                   # everything against a built-in emulator, no setup
  $ hpauth profiles add work                      # create a profile interactively
  $ curl -H "$(hpauth header -p work)" https://…  # call an API
  $ TOKEN=$(hpauth token --provider greenlake --client-id abc --client-secret-env GL_SECRET)
`;
