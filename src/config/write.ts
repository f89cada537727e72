/**
 * Writing the config file (`profiles add` / `profiles remove`): atomic replace, the file 0600 in a 0700 dir,
 * keys written in snake_case. A hand-written file keeps its comments and layout: YAML through the yaml Document API,
 * TOML through toml-patch (changed keys edited in place, a new profile appended as its own `[profiles.NAME]`
 * table). JSON has no comments and is re-serialised.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { patch as patchToml } from "@decimalturn/toml-patch";
import { parse as parseTomlModule, stringify as stringifyToml } from "smol-toml";
import { parseDocument, stringify as stringifyYaml } from "yaml";
import { HpauthError } from "../engine/errors.js";
import type { ProfileConfig } from "../engine/types.js";
import { camelCase, FIELD_BY_KEY, snakeCase } from "./fields.js";
import { formatFor } from "./load.js";
import { parseConfigText } from "./parse.js";
import { maskValue } from "./resolve.js";

function toFileKeys(profile: ProfileConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(profile)) {
    if (v === undefined || k === "name") continue;
    out[snakeCase(k)] = v;
  }
  return out;
}

async function readExisting(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new HpauthError("CONFIG_INVALID", `Config file ${path}: cannot be read`, { cause: e });
  }
}

async function atomicWrite(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, text, { mode: 0o600, flag: "wx" });
    await rename(tmp, path);
    // The file may hold a client secret: keep it private even if it existed with looser permissions.
    if (process.platform !== "win32") await chmod(path, 0o600);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new HpauthError(
      "CONFIG_INVALID",
      `Config file ${path}: cannot be written (${(e as NodeJS.ErrnoException).code ?? "error"})`,
      {
        cause: e,
      },
    );
  }
}

function render(path: string, existing: string | undefined, mutate: (doc: Record<string, unknown>) => void): string {
  const format = formatFor(path);
  if (format === "yaml") {
    const doc = parseDocument(existing ?? "");
    const plain = (doc.toJS() ?? {}) as Record<string, unknown>;
    mutate(plain);
    // Re-set only the keys that can change, so comments elsewhere in the file survive.
    if (plain.default_profile === undefined) doc.delete("default_profile");
    else doc.set("default_profile", plain.default_profile);
    if (doc.contents === null) return stringifyYaml(plain);
    doc.set("profiles", doc.createNode(plain.profiles ?? {}));
    return doc.toString();
  }
  if (format === "toml" && existing !== undefined) return renderToml(path, existing, mutate);
  const doc = existing === undefined ? {} : (JSON.parse(existing) as Record<string, unknown>);
  mutate(doc);
  return format === "toml" ? `${stringifyToml(doc)}\n` : `${JSON.stringify(doc, null, 2)}\n`;
}

/** Plain data for comparing two parses (TOML dates become their text). */
const plainData = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/**
 * An existing TOML file, edited rather than rewritten, so its comments and layout survive: toml-patch changes the
 * keys that differ in place; a profile the file did not have is appended as a `[profiles.NAME]` table (toml-patch
 * would put it at the top as a dotted inline table). The result is parsed again and must hold exactly the intended
 * data; should the file's shape defeat the editor (say, `profiles` as one inline table), nothing is written and the
 * error shows what to add by hand.
 */
function renderToml(path: string, existing: string, mutate: (doc: Record<string, unknown>) => void): string {
  const before = parseTomlRaw(existing, path) as Record<string, unknown>;
  const doc = parseTomlModule(existing) as Record<string, unknown>;
  mutate(doc);
  const oldProfiles = (before.profiles ?? {}) as Record<string, unknown>;
  const newProfiles = (doc.profiles ?? {}) as Record<string, unknown>;
  const added = Object.keys(newProfiles).filter((n) => !(n in oldProfiles));
  const inPlace: Record<string, unknown> = { ...doc, profiles: { ...newProfiles } };
  for (const n of added) delete (inPlace.profiles as Record<string, unknown>)[n];
  if (Object.keys(inPlace.profiles as object).length === 0 && before.profiles === undefined) delete inPlace.profiles;
  let text = patchToml(existing, inPlace);
  if (added.length > 0) {
    const table = stringifyToml({ profiles: Object.fromEntries(added.map((n) => [n, newProfiles[n]])) });
    text = `${text.replace(/\s*$/, "")}\n\n${table.trim()}\n`;
  }
  let check: unknown;
  try {
    check = parseTomlModule(text);
  } catch {
    check = undefined;
  }
  if (!isDeepStrictEqual(plainData(check), plainData(doc))) {
    const snippet = added.length
      ? stringifyToml({ profiles: Object.fromEntries(added.map((n) => [n, masked(newProfiles[n])])) }).trim()
      : undefined;
    throw new HpauthError(
      "CONFIG_INVALID",
      `Config file ${path}: cannot be updated without losing its comments or layout; nothing was written`,
      {
        hint: snippet
          ? `Add the profile to the file by hand (fill in the masked values):\n${snippet}`
          : "Edit the file by hand, or name another file with --config.",
      },
    );
  }
  return text;
}

function masked(profile: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(profile as Record<string, unknown>)) {
    out[k] = FIELD_BY_KEY.get(camelCase(k))?.secret ? "********" : maskValue(camelCase(k), v);
  }
  return out;
}

function parseTomlRaw(text: string, path: string): unknown {
  // Validate through the normal loader first so a broken file is reported, not overwritten.
  parseConfigText(text, path, "toml");
  // Keep the raw table (it round-trips unknown keys the loader would drop).
  return parseTomlModule(text);
}

/** Adds or replaces profile `name`; makes it the default when asked or when it is the first profile. */
export async function writeProfile(
  path: string,
  name: string,
  profile: ProfileConfig,
  options: { makeDefault?: boolean } = {},
): Promise<void> {
  const existing = await readExisting(path);
  if (existing !== undefined) parseConfigText(existing, path); // refuse to rewrite a file we cannot read
  const text = render(path, existing, (doc) => {
    const profiles = (doc.profiles ?? {}) as Record<string, unknown>;
    profiles[name] = toFileKeys(profile);
    doc.profiles = profiles;
    const hasDefault = doc.default_profile !== undefined || doc.defaultProfile !== undefined;
    if (options.makeDefault || !hasDefault) {
      delete doc.defaultProfile;
      doc.default_profile = name;
    }
  });
  await atomicWrite(path, text);
}

/** Removes profile `name`; returns false if there was none. */
export async function removeProfile(path: string, name: string): Promise<boolean> {
  const existing = await readExisting(path);
  if (existing === undefined) return false;
  const config = parseConfigText(existing, path);
  if (!(name in config.profiles)) return false;
  const text = render(path, existing, (doc) => {
    const profiles = (doc.profiles ?? {}) as Record<string, unknown>;
    delete profiles[name];
    doc.profiles = profiles;
    for (const k of ["default_profile", "defaultProfile"]) if (doc[k] === name) delete doc[k];
  });
  await atomicWrite(path, text);
  return true;
}
