/**
 * Writing the config file (`profiles add` / `profiles remove`): atomic replace, the file 0600 in a 0700 dir,
 * keys written in snake_case. YAML keeps its comments (the yaml Document API); TOML and JSON are re-serialised.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parse as parseTomlModule, stringify as stringifyToml } from "smol-toml";
import { parseDocument, stringify as stringifyYaml } from "yaml";
import { HpauthError } from "../engine/errors.js";
import type { ProfileConfig } from "../engine/types.js";
import { snakeCase } from "./fields.js";
import { formatFor } from "./load.js";
import { parseConfigText } from "./parse.js";

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
  const doc =
    existing === undefined
      ? {}
      : ((format === "toml" ? parseTomlRaw(existing, path) : JSON.parse(existing)) as Record<string, unknown>);
  mutate(doc);
  return format === "toml" ? `${stringifyToml(doc)}\n` : `${JSON.stringify(doc, null, 2)}\n`;
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
