/**
 * Messages a person can act on, from the built CLI (issue 7.16): where a config file is broken (line and column,
 * no text of the file), and why a secret command failed (its stderr, redacted and bounded).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/parse.js";
import { admin } from "../cli/helpers.js";
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

describe("hints name config-file keys (built CLI)", () => {
  beforeAll(buildCli, 200_000);

  it("an oauth2 discovery failure's hint says token_url, not tokenUrl", async () => {
    // A server whose discovery document is not one (no issuer, no endpoints).
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      const r = await hpauth(
        [
          "token",
          "--json",
          "--store",
          "memory",
          "--provider",
          "oauth2",
          "--issuer",
          `http://127.0.0.1:${port}`,
          "--client-id",
          "c",
          "--client-secret-env",
          "S",
        ],
        { S: "oauth2-secret-value" },
      );
      expect(r.code).toBe(5);
      expect(r.err).toContain("set token_url (and authorization_url) explicitly");
      expect(r.err).not.toMatch(/\b(tokenUrl|authorizationUrl)\b/);
      expect(JSON.parse(r.out).error.hint).toContain("token_url");
    } finally {
      await new Promise((r) => server.close(r));
    }
  }, 30_000);
});

describe("profiles add from flags (built CLI)", () => {
  let dir: string;
  beforeAll(async () => {
    await buildCli();
    dir = await mkdtemp(join(tmpdir(), "hpauth-ux-add-"));
  }, 200_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("suggests aruba-central for --provider aruba", async () => {
    const r = await hpauth([
      "profiles",
      "add",
      "a",
      "-c",
      join(dir, "c.toml"),
      "--provider",
      "aruba",
      "--non-interactive",
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--provider must be one of .* \(got "aruba"; did you mean aruba-central\?\)/);
  }, 30_000);

  it("keeps a hand-written TOML file's comments, or refuses and says what to add by hand", async () => {
    const path = join(dir, "inline.toml");
    // `profiles` as one inline table: a [profiles.NAME] table cannot be added to it without rewriting the file.
    const original =
      '# hand written\nprofiles = { gl = { provider = "greenlake", client_id = "a", client_secret_env = "S" } }\n';
    await writeFile(path, original);
    const args = [
      "profiles",
      "add",
      "extra",
      "-c",
      path,
      "--provider",
      "wxp",
      "--username",
      "u",
      "--password-env",
      "P",
    ];
    const r = await hpauth([...args, "--non-interactive"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot be updated without losing its comments or layout; nothing was written/);
    expect(r.err).toContain('[profiles.extra]\nprovider = "wxp"\nusername = "u"\npassword_env = "P"');
    expect(await readFile(path, "utf8")).toBe(original);

    const tidy = join(dir, "tidy.toml");
    const text =
      '# hand written\ndefault_profile = "gl" # mine\n\n[profiles.gl]\nprovider = "greenlake" # prod\nclient_id = "a"\nclient_secret_env = "S"\n';
    await writeFile(tidy, text);
    const ok = await hpauth([
      "profiles",
      "add",
      "extra",
      "-c",
      tidy,
      "--provider",
      "wxp",
      "--username",
      "u",
      "--password-env",
      "P",
      "--non-interactive",
    ]);
    expect(ok.code, ok.err).toBe(0);
    const after = await readFile(tidy, "utf8");
    expect(after.startsWith(text.trimEnd())).toBe(true);
    const removed = await hpauth(["profiles", "remove", "extra", "-c", tidy, "--store", "memory"]);
    expect(removed.code, removed.err).toBe(0);
    expect(await readFile(tidy, "utf8")).toContain('provider = "greenlake" # prod');
  }, 30_000);
});

describe("status tells an old error from a current one (built CLI)", () => {
  let emu: { providers: Record<string, Record<string, string>>; adminUrl: string; close(): Promise<void> };
  let dir: string;
  beforeAll(async () => {
    await buildCli();
    const { startEmulator } = await import("../../src/emulator/index.js");
    emu = (await startEmulator()) as never;
    dir = await mkdtemp(join(tmpdir(), "hpauth-ux-status-"));
  }, 200_000);
  afterAll(async () => {
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("an error after the stored token is the last error; one before it is marked as earlier (stale)", async () => {
    const gl = emu.providers.greenlake!;
    const store = join(dir, "store");
    const profile = {
      name: "greenlake",
      provider: "greenlake" as const,
      baseUrl: gl.baseUrl!,
      clientId: gl.clientId!,
      clientSecretEnv: "S",
    };
    const args = ["--store-dir", store, "--provider", "greenlake", "--base-url", gl.baseUrl!];
    const all = [...args, "--client-id", gl.clientId!, "--client-secret-env", "S"];
    const env = { S: gl.clientSecret! };
    expect((await hpauth(["token", ...all], env)).code).toBe(0);
    // A forced refresh that fails: the stored token stays, the error is newer than it.
    await admin(emu.adminUrl, "/faults", {
      provider: "greenlake",
      endpoint: "token",
      type: "status",
      status: 503,
      count: 20,
    });
    expect((await hpauth(["token", "--force-refresh", ...all], env)).code).toBe(5);
    await admin(emu.adminUrl, "/faults", undefined, "DELETE");
    const fresh = JSON.parse((await hpauth(["status", "--json", ...all], env)).out).profiles[0];
    expect(fresh.last_error).toMatchObject({ code: "SERVER_ERROR" });
    expect(fresh.last_error.stale).toBeUndefined();
    const text = (await hpauth(["status", ...all], env)).out;
    expect(text).toMatch(/x greenlake: last error \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\) SERVER_ERROR/);

    // The same error, recorded before the token the store now holds was obtained (another process's failed
    // attempt that lost a race to a successful one): history, not the profile's state.
    const { FileTokenStore } = await import("../../src/stores/file.js");
    const { credentialKey, validateProfile } = await import("../../src/engine/profile.js");
    const key = credentialKey(validateProfile(profile));
    const files = new FileTokenStore({ dir: store });
    const rec = (await files.get(key))!;
    await files.set(key, { ...rec, lastError: { ...rec.lastError!, at: rec.obtainedAt! - 60_000 } });
    const old = JSON.parse((await hpauth(["status", "--json", ...all], env)).out).profiles[0];
    expect(old.state).toBe("valid");
    expect(old.last_error).toMatchObject({ code: "SERVER_ERROR", stale: true });
    const oldText = (await hpauth(["status", ...all], env)).out;
    expect(oldText).toMatch(/- greenlake: earlier error \(.* UTC\), before the current token: SERVER_ERROR/);
    expect(oldText).not.toMatch(/x greenlake: last error/);
  }, 60_000);
});
