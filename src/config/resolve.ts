/**
 * One profile out of three layers: flags > environment (HPAUTH_*) > config file. A one-off call needs no file:
 * `hpauth token --provider greenlake --client-id … --client-secret-env GL_SECRET`.
 */
import { HpauthError } from "../engine/errors.js";
import type { NamedProfile, ProfileConfig } from "../engine/types.js";
import { envName, FIELD_BY_KEY, flagName, PROFILE_FIELDS } from "./fields.js";
import { coerceField, type HpauthConfig } from "./load.js";

type Env = Readonly<Record<string, string | undefined>>;

/** The fields that each name one source of the same secret. */
const SECRET_SOURCES: ReadonlyArray<ReadonlyArray<keyof ProfileConfig>> = [
  ["clientSecret", "clientSecretEnv", "clientSecretCommand"],
  ["password", "passwordEnv", "passwordCommand"],
];

export type FieldSource = "flag" | "env" | "file";

export interface ResolvedConfigProfile {
  profile: NamedProfile;
  /** Where each field's value came from (for `profiles show` and error messages). */
  sources: Partial<Record<keyof ProfileConfig, FieldSource>>;
  /** True when the profile was assembled from flags/env alone. */
  adHoc: boolean;
  warnings: string[];
}

/** Profile fields given as environment variables, coerced; errors name the variable. */
export function profileFromEnv(env: Env): Partial<ProfileConfig> {
  const out: Record<string, unknown> = {};
  for (const field of PROFILE_FIELDS) {
    if (field.fileOnly) continue;
    const raw = env[envName(field.key)];
    if (raw === undefined || raw === "") continue;
    const r = coerceField(field.key, raw, true);
    if (!r.ok) {
      throw new HpauthError("CONFIG_INVALID", `Environment variable ${envName(field.key)} ${r.reason}`);
    }
    out[field.key] = r.value;
  }
  return out as Partial<ProfileConfig>;
}

/** Profile fields given as flags (already camelCase keys from commander), coerced; errors name the flag. */
export function profileFromFlags(flags: Record<string, unknown>): Partial<ProfileConfig> {
  const out: Record<string, unknown> = {};
  for (const field of PROFILE_FIELDS) {
    if (field.fileOnly) continue;
    const raw = flags[field.key];
    if (raw === undefined) continue;
    const r = coerceField(field.key, raw, true);
    if (!r.ok) throw new HpauthError("USAGE", `Flag ${flagName(field.key)} ${r.reason}`);
    out[field.key] = r.value;
  }
  return out as Partial<ProfileConfig>;
}

export interface ResolveOptions {
  config: HpauthConfig;
  /** `--profile`; falls back to HPAUTH_PROFILE from `env`. */
  profileName?: string;
  /** Profile field flags, camelCase keys. */
  flags: Record<string, unknown>;
  env: Env;
}

/** Which file profile is meant: explicit selection, else default_profile, else the only one. */
export function selectProfileName(config: HpauthConfig, explicit: string | undefined): string | undefined {
  if (explicit) return explicit;
  if (config.defaultProfile) return config.defaultProfile;
  const names = Object.keys(config.profiles);
  return names.length === 1 ? names[0] : undefined;
}

export function resolveProfile(options: ResolveOptions): ResolvedConfigProfile {
  const { config, env } = options;
  const fromFlags = profileFromFlags(options.flags);
  const fromEnv = profileFromEnv(env);
  const explicit = options.profileName || env.HPAUTH_PROFILE || undefined;
  const names = Object.keys(config.profiles);
  const overlayProvider = fromFlags.provider ?? fromEnv.provider;
  const warnings: string[] = [];

  let name = selectProfileName(config, explicit);
  let base: ProfileConfig | undefined = name !== undefined ? config.profiles[name] : undefined;

  if (explicit && !base && !overlayProvider) {
    throw new HpauthError("PROFILE_NOT_FOUND", `Profile "${explicit}" not found${where(config)}`, {
      profile: explicit,
      hint: names.length ? `Defined profiles: ${names.join(", ")}.` : "Create one with `hpauth profiles add`.",
    });
  }
  // Without an explicit selection, `--provider X` (or HPAUTH_PROVIDER) means a one-off profile made of the flags and
  // variables alone, even when the default profile has the same provider: silently borrowing its client id, region
  // or secret would send one account's credentials where another was meant. `-p NAME --field …` overrides a profile.
  if (!explicit && base && overlayProvider) {
    base = undefined;
    name = undefined;
  }
  if (!base && !overlayProvider) {
    if (names.length === 0) {
      throw new HpauthError("PROFILE_NOT_FOUND", `No profile configured${where(config)}`, {
        hint: "Create one with `hpauth profiles add`, or give --provider and its fields as flags or HPAUTH_* variables.",
      });
    }
    throw new HpauthError("PROFILE_NOT_FOUND", `Several profiles in ${config.path} and none selected`, {
      hint: `Choose one with --profile (or HPAUTH_PROFILE, or default_profile in the file): ${names.join(", ")}.`,
    });
  }

  const sources: ResolvedConfigProfile["sources"] = {};
  const merged: Record<string, unknown> = {};
  for (const [layer, values] of [
    ["file", base ?? {}],
    ["env", fromEnv],
    ["flag", fromFlags],
  ] as const) {
    // A secret has three sources (inline, *_env, *_command) of which a profile may name one: a layer that gives any
    // of them replaces what the layers below said about that secret (`--client-secret-env X` over a file's
    // `client_secret_command`), instead of leaving two sources for validation to refuse.
    for (const group of SECRET_SOURCES) {
      if (!group.some((k) => (values as Record<string, unknown>)[k] !== undefined)) continue;
      for (const k of group) {
        delete merged[k];
        delete sources[k];
      }
    }
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) continue;
      merged[k] = v;
      sources[k as keyof ProfileConfig] = layer;
    }
  }
  if (sources.clientSecret === "flag" || sources.password === "flag") {
    warnings.push(
      "Warning: a secret given as a flag is visible to other users in `ps` and kept in shell history; prefer --client-secret-env / --password-env or a *-command.",
    );
  }
  if (sources.proxy === "flag" && typeof merged.proxy === "string" && hasUrlPassword(merged.proxy)) {
    warnings.push(
      "Warning: a proxy password given in --proxy is visible to other users in `ps`; set HPAUTH_PROXY or HTTPS_PROXY instead.",
    );
  }
  const profileName = explicit ?? name ?? String(merged.provider);
  return {
    profile: { ...(merged as ProfileConfig), name: profileName },
    sources,
    adHoc: base === undefined,
    warnings,
  };
}

function where(config: HpauthConfig): string {
  return config.exists ? ` in ${config.path}` : ` (no config file at ${config.path})`;
}

/** A URL with a password in its userinfo (a proxy's credentials). */
function hasUrlPassword(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^\s/@:]*:[^\s/@]+@/i.test(value);
}

/** A value as shown to people: a proxy URL's password masked (the rest of it is configuration, not a secret). */
export function maskValue(key: string, value: unknown): unknown {
  if (FIELD_BY_KEY.get(key)?.secret && value) return "********";
  if (key === "proxy" && typeof value === "string" && hasUrlPassword(value))
    return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^\s/@:]*:)[^\s/@]+@/i, "$1********@");
  return value;
}

/** Shows a profile with secrets masked: `profiles show`. */
export function maskProfile(profile: ProfileConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(profile)) out[k] = maskValue(k, v);
  return out;
}
