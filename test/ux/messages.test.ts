/**
 * Messages a person can act on, from the built CLI (issue 7.16): where a config file is broken (line and column,
 * no text of the file), and why a secret command failed (its stderr, redacted and bounded).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/parse.js";
import { buildCli, closedPort, hpauth } from "./helpers.js";

const SECRET = "s3cret-in-the-broken-line";

describe("config parse errors name the line and column (built CLI)", () => {
  let dir: string;
  beforeAll(async () => {
    await buildCli();
    dir = await mkdtemp(join(tmpdir(), "hpauth-ux-msg-"));
  }, 200_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each([
    [
      "config.toml",
      `default_profile = "gl"\n[profiles.gl]\nprovider = "greenlake"\nclient_secret = "${SECRET}\nclient_id = "x"\n`,
      /config\.toml: line 4, column \d+: cannot be parsed as TOML: \S/,
    ],
    [
      "config.json",
      `{\n  "profiles": {\n    "gl": {"client_secret": "${SECRET}", provider: "greenlake"}\n  }\n}\n`,
      /config\.json: line 3, column 58: cannot be parsed as JSON: invalid symbol/,
    ],
    [
      "trailing-comma.json",
      `{\n  "profiles": {\n    "gl": {"provider": "greenlake",}\n  }\n}\n`,
      /trailing-comma\.json: line 3, column 36: cannot be parsed as JSON: property name expected/,
    ],
    ["truncated.json", `{\n  "profiles": {\n`, /truncated\.json: line 3, column 1: cannot be parsed as JSON: \S/],
  ])(
    "%s",
    async (name, text, re) => {
      const path = join(dir, name);
      await writeFile(path, text);
      const r = await hpauth(["status", "-c", path]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(re);
      expect(r.err).not.toContain(SECRET);
      expect(r.err).not.toMatch(/internal error/);
    },
    30_000,
  );

  it("YAML: line and column from the parser, no excerpt of the file", () => {
    const text = `profiles:\n  gl:\n    provider: greenlake\n    client_secret: "${SECRET}\n`;
    expect(() => parseConfigText(text, "/c/config.yaml")).toThrow(
      /config\.yaml: line 5, column 1: cannot be parsed as YAML: Missing closing "quote$/,
    );
    try {
      parseConfigText(text, "/c/config.yaml");
    } catch (e) {
      expect(String((e as Error).message)).not.toContain(SECRET);
    }
  });
});

describe("a failing client_secret_command says why (built CLI)", () => {
  beforeAll(buildCli, 200_000);

  it("shows the command's stderr, redacted and bounded", async () => {
    const port = await closedPort();
    const r = await hpauth(
      [
        "token",
        "--store",
        "memory",
        "--provider",
        "greenlake",
        "--base-url",
        `http://127.0.0.1:${port}`,
        "--client-id",
        "gl-client",
        "--client-secret-command",
        // What a password manager prints when locked, plus a line that leaks what it printed on stdout.
        'echo partial-secret-value; echo "[ERROR] vault is locked: run vault login (partial-secret-value)" >&2; exit 2',
      ],
      {},
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain("client_secret_command");
    expect(r.err).toContain("failed (exit status 2): [ERROR] vault is locked: run vault login ([redacted])");
    expect(r.err).not.toContain("partial-secret-value");
    expect(r.err).not.toMatch(/clientSecretCommand/);
  }, 30_000);
});
