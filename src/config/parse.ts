/**
 * Synchronous config parsing with every parser loaded up front, for `profiles add/remove` (which rewrite the file
 * anyway) and tests. The read path (loadConfigFile) imports only the parser the file's format needs.
 */
import { parse as parseToml } from "smol-toml";
import { parse as parseYaml } from "yaml";
import { parseJson } from "./json.js";
import { type ConfigFormat, formatFor, type HpauthConfig, parseConfigWith } from "./load.js";

export function parseConfigText(text: string, path: string, format: ConfigFormat = formatFor(path)): HpauthConfig {
  const parse =
    format === "toml" ? parseToml : format === "yaml" ? (t: string) => parseYaml(t, { logLevel: "error" }) : parseJson;
  return parseConfigWith(text, path, format, parse);
}
