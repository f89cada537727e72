import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfigFile } from "../../src/config/load.js";
import { parseConfigText } from "../../src/config/parse.js";
import { defaultConfigDir, locateConfig } from "../../src/config/paths.js";
import { resolveProfile } from "../../src/config/resolve.js";
import { removeProfile, writeProfile } from "../../src/config/write.js";
import { HpauthError } from "../../src/engine/errors.js";

const TOML = `
default_profile = "gl"
[profiles.gl]
provider = "greenlake"
client_id = "file-id"
client_secret_env = "GL_SECRET"
region = "eu1"
[profiles.aruba]
provider = "aruba-central"
clientId = "aruba-id"
customer_id = "cust"
callback_port = 8765
client_secret_created_at = 2025-01-31
proxy_allow = ["GET /monitoring/v2/*", "GET,HEAD /monitoring/v1/clients/**"]
[profiles.aruba.token_params]
audience = "x"
`;
const YAML = `
defaultProfile: gl
profiles:
  gl:
    provider: greenlake
    client_id: file-id
    clientSecretEnv: GL_SECRET
    region: eu1
  aruba:
    provider: aruba-central
    client_id: aruba-id
    customerId: cust
    callback_port: 8765
    proxy_allow:
      - GET /monitoring/v2/*
      - GET,HEAD /monitoring/v1/clients/**
`;
const JSONTEXT = JSON.stringify({
  default_profile: "gl",
  profiles: {
    gl: { provider: "greenlake", clientId: "file-id", client_secret_env: "GL_SECRET", region: "eu1" },
    aruba: {
      provider: "aruba-central",
      client_id: "aruba-id",
      customer_id: "cust",
      callbackPort: 8765,
      proxyAllow: ["GET /monitoring/v2/*", "GET,HEAD /monitoring/v1/clients/**"],
    },
  },
});

describe("config files", () => {
  for (const [ext, text] of [
    ["toml", TOML],
    ["yaml", YAML],
    ["yml", YAML],
    ["json", JSONTEXT],
  ] as const) {
    it(`parses ${ext} with snake_case and camelCase keys`, () => {
      const c = parseConfigText(text, `/x/config.${ext}`);
      expect(c.defaultProfile).toBe("gl");
      expect(c.profiles.gl).toEqual({
        provider: "greenlake",
        clientId: "file-id",
        clientSecretEnv: "GL_SECRET",
        region: "eu1",
      });
      expect(c.profiles.aruba).toMatchObject({
        provider: "aruba-central",
        clientId: "aruba-id",
        customerId: "cust",
        callbackPort: 8765,
        proxyAllow: ["GET /monitoring/v2/*", "GET,HEAD /monitoring/v1/clients/**"],
      });
    });
  }

  it("proxy_allow must be a list of strings, and has no flag or environment variable", () => {
    expect(() => parseConfigText('[profiles.a]\nprovider = "wxp"\nproxy_allow = "GET /x"\n', "/x/c.toml")).toThrow(
      /profile "a": field "proxy_allow" must be a list of strings/,
    );
    expect(() => parseConfigText('[profiles.a]\nprovider = "wxp"\nproxy_allow = [1]\n', "/x/c.toml")).toThrow(
      /must be a list of strings/,
    );
    const empty = parseConfigText("", "/x/c.toml");
    const r = resolveProfile({
      config: empty,
      flags: { provider: "wxp", proxyAllow: "GET /x" },
      env: { HPAUTH_PROXY_ALLOW: "GET /y" },
    });
    expect(r.profile.proxyAllow).toBeUndefined();
  });

  it("keeps TOML dates as calendar days and reads tables as records", () => {
    const c = parseConfigText(TOML, "/x/config.toml");
    expect(c.profiles.aruba!.clientSecretCreatedAt).toBe("2025-01-31");
    expect(c.profiles.aruba!.tokenParams).toEqual({ audience: "x" });
  });

  it.each([
    ['[profiles.a]\nprovider = "nope"', /profile "a": field "provider" must be one of/],
    ['[profiles.a]\ncallback_port = "x"', /profile "a": field "callback_port" must be an integer/],
    ["[profiles.a]\nclient_id = 5", /profile "a": field "client_id" must be a string/],
    ['[profiles.a]\nclient_id = "a"\nclientId = "b"', /given twice/],
    ['default_profile = "zz"\n[profiles.a]\nprovider = "wxp"', /default_profile "zz" is not defined/],
    ["[profiles\nbroken", /cannot be parsed as TOML/],
  ])("rejects %j naming file, profile and field", (text, re) => {
    const e = (() => {
      try {
        parseConfigText(text, "/etc/hp/config.toml");
      } catch (err) {
        return err;
      }
    })() as HpauthError;
    expect(e).toBeInstanceOf(HpauthError);
    expect(e.code).toBe("CONFIG_INVALID");
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain("/etc/hp/config.toml");
    expect(e.message).toMatch(re);
  });

  it("does not echo a secret from a line it cannot parse", () => {
    try {
      parseConfigText('[profiles.a]\nclient_secret = "s3cr3t-value\n', "/c.toml");
      expect.unreachable();
    } catch (e) {
      expect(String((e as Error).message)).not.toContain("s3cr3t-value");
    }
  });

  it("warns about unknown keys instead of failing", () => {
    const c = parseConfigText('[profiles.a]\nprovider = "wxp"\nclient_secrt = "x"', "/c.toml");
    expect(c.warnings.join("\n")).toMatch(/unknown field "client_secrt"/);
  });

  it("git_credential: host → profile (string or table; hosts case-insensitive); bad entries name the host", () => {
    const base = '[profiles.gl]\nprovider = "greenlake"\n';
    const c = parseConfigText(
      `${base}[git_credential]\n"Git.Example.com" = "gl"\n"h:8443" = { profile = "gl", username = "oauth2" }\n`,
      "/c.toml",
    );
    expect(c.gitCredential).toEqual({
      "git.example.com": { profile: "gl" },
      "h:8443": { profile: "gl", username: "oauth2" },
    });
    expect(c.warnings).toEqual([]);
    // A host naming a profile that is gone: a warning (the other commands still work), not a broken config.
    const gone = parseConfigText(`${base}[git_credential]\n"h" = "nope"\n`, "/c.toml");
    expect(gone.warnings.join("\n")).toMatch(/git_credential "h": profile "nope" is not defined/);
    for (const [entry, re] of [
      ['"h" = { profile = "gl", user = "x" }', /git_credential "h": unknown key "user"/],
      ['"h" = 3', /git_credential "h": must name a profile/],
      ['"h" = { profile = "gl", username = "" }', /git_credential "h": username must be/],
    ] as const) {
      expect(() => parseConfigText(`${base}[git_credential]\n${entry}\n`, "/c.toml")).toThrow(re);
    }
  });
});

describe("config location", () => {
  const none = () => false;
  it.each([
    [{ flag: "/f.toml", env: { HPAUTH_CONFIG: "/e.toml" } }, "linux", "/f.toml", "flag"],
    [{ env: { HPAUTH_CONFIG: "/e.yaml" } }, "linux", "/e.yaml", "env"],
    [{ env: { XDG_CONFIG_HOME: "/xdg" } }, "linux", "/xdg/hpauth/config.toml", "default"],
    [{ env: {} }, "linux", "/home/u/.config/hpauth/config.toml", "default"],
    [{ env: {} }, "darwin", "/home/u/Library/Application Support/hpauth/config.toml", "default"],
  ] as const)("%j on %s → %s", (input, platform, path, origin) => {
    const loc = locateConfig((input as { flag?: string }).flag, input.env, platform, "/home/u", none);
    expect(loc).toEqual({ path, origin });
  });
  it("windows uses %APPDATA%", () => {
    expect(defaultConfigDir({ APPDATA: "C:\\Users\\u\\AppData\\Roaming" }, "win32", "C:\\Users\\u")).toMatch(
      /Roaming[\\/]hpauth$/,
    );
  });
  it("takes the first existing of toml/yaml/yml/json", () => {
    const loc = locateConfig(
      undefined,
      { XDG_CONFIG_HOME: "/x" },
      "linux",
      "/h",
      (p) => p.endsWith("config.yml") || p.endsWith(".json"),
    );
    expect(loc.path).toBe("/x/hpauth/config.yml");
  });
});

describe("profile resolution: flags > env > file", () => {
  const config = parseConfigText(TOML, "/c/config.toml");
  const empty = { ...parseConfigText("", "/c/none.toml"), exists: false };
  const cases: [string, Parameters<typeof resolveProfile>[0], Record<string, unknown>][] = [
    [
      "default_profile from the file",
      { config, flags: {}, env: {} },
      { name: "gl", clientId: "file-id", region: "eu1" },
    ],
    [
      "env overrides file",
      { config, flags: {}, env: { HPAUTH_CLIENT_ID: "env-id" } },
      { name: "gl", clientId: "env-id" },
    ],
    [
      "flag overrides env",
      { config, flags: { clientId: "flag-id" }, env: { HPAUTH_CLIENT_ID: "env-id" } },
      { name: "gl", clientId: "flag-id", clientSecretEnv: "GL_SECRET" },
    ],
    [
      "--profile selects",
      { config, profileName: "aruba", flags: {}, env: {} },
      { name: "aruba", provider: "aruba-central" },
    ],
    ["HPAUTH_PROFILE selects", { config, flags: {}, env: { HPAUTH_PROFILE: "aruba" } }, { name: "aruba" }],
    [
      "--profile beats HPAUTH_PROFILE",
      { config, profileName: "gl", flags: {}, env: { HPAUTH_PROFILE: "aruba" } },
      { name: "gl" },
    ],
    [
      "one-off profile from flags, no file",
      { config: empty, flags: { provider: "greenlake", clientId: "a", clientSecretEnv: "S" }, env: {} },
      { name: "greenlake", provider: "greenlake", clientId: "a", clientSecretEnv: "S" },
    ],
    [
      "one-off profile from env, no file",
      { config: empty, flags: {}, env: { HPAUTH_PROVIDER: "wxp", HPAUTH_USERNAME: "u", HPAUTH_PASSWORD_ENV: "P" } },
      { name: "wxp", provider: "wxp", username: "u", passwordEnv: "P" },
    ],
    [
      "--provider of another kind ignores the default profile",
      { config, flags: { provider: "wxp", username: "u" }, env: {} },
      { name: "wxp", provider: "wxp", username: "u", clientId: undefined },
    ],
    [
      "--provider of the same kind ignores the default profile too (nothing borrowed)",
      { config, flags: { provider: "greenlake", clientId: "a" }, env: {} },
      { name: "greenlake", clientId: "a", clientSecretEnv: undefined, region: undefined },
    ],
    [
      "--client-secret replaces the file's client_secret_env",
      { config, flags: { clientSecret: "s" }, env: {} },
      { name: "gl", clientSecret: "s", clientSecretEnv: undefined, clientId: "file-id" },
    ],
    [
      "HPAUTH_CLIENT_SECRET_COMMAND replaces the file's client_secret_env",
      { config, flags: {}, env: { HPAUTH_CLIENT_SECRET_COMMAND: "pass x" } },
      { clientSecretCommand: "pass x", clientSecretEnv: undefined },
    ],
    [
      "a flag for one secret leaves the other secret's sources alone",
      { config, flags: { passwordEnv: "P" }, env: {} },
      { passwordEnv: "P", clientSecretEnv: "GL_SECRET" },
    ],
    [
      "typed flags are coerced",
      {
        config: empty,
        flags: { provider: "oauth2", callbackPort: "8080", pkce: false, tokenParams: "audience=api&x=1" },
        env: {},
      },
      { callbackPort: 8080, pkce: false, tokenParams: { audience: "api", x: "1" } },
    ],
    [
      "typed env is coerced",
      { config: empty, flags: {}, env: { HPAUTH_PROVIDER: "oauth2", HPAUTH_PKCE: "false", HPAUTH_CALLBACK_PORT: "9" } },
      { pkce: false, callbackPort: 9 },
    ],
  ];
  it.each(cases)("%s", (_, input, expected) => {
    const r = resolveProfile(input);
    for (const [k, v] of Object.entries(expected))
      expect((r.profile as unknown as Record<string, unknown>)[k]).toEqual(v);
  });

  it("records where each field came from", () => {
    const r = resolveProfile({ config, flags: { clientId: "f" }, env: { HPAUTH_REGION: "us1" } });
    expect(r.sources).toMatchObject({ clientId: "flag", region: "env", provider: "file" });
  });

  it("uses the only profile when there is no default", () => {
    const one = parseConfigText('[profiles.solo]\nprovider = "wxp"', "/c.toml");
    expect(resolveProfile({ config: one, flags: {}, env: {} }).profile.name).toBe("solo");
  });

  it.each([
    ["no profile at all", { config: empty, flags: {}, env: {} }, /No profile configured/],
    [
      "several, none selected",
      {
        config: parseConfigText('[profiles.a]\nprovider="wxp"\n[profiles.b]\nprovider="wxp"', "/c.toml"),
        flags: {},
        env: {},
      },
      /Several profiles in \/c.toml/,
    ],
    [
      "unknown --profile",
      { config, profileName: "nope", flags: {}, env: {} },
      /Profile "nope" not found in \/c\/config.toml/,
    ],
  ])("%s → PROFILE_NOT_FOUND (exit 2)", (_, input, re) => {
    try {
      resolveProfile(input);
      expect.unreachable();
    } catch (e) {
      expect((e as HpauthError).code).toBe("PROFILE_NOT_FOUND");
      expect((e as HpauthError).exitCode).toBe(2);
      expect((e as HpauthError).message).toMatch(re);
    }
  });

  it("lists the names when several profiles and none selected", () => {
    const two = parseConfigText('[profiles.a]\nprovider="wxp"\n[profiles.b]\nprovider="wxp"', "/c.toml");
    expect(() => resolveProfile({ config: two, flags: {}, env: {} })).toThrow(
      expect.objectContaining({ hint: expect.stringContaining("a, b") }),
    );
  });

  it("names the bad flag / variable", () => {
    expect(() => resolveProfile({ config: empty, flags: { callbackPort: "x", provider: "wxp" }, env: {} })).toThrow(
      /--callback-port/,
    );
    expect(() => resolveProfile({ config: empty, flags: {}, env: { HPAUTH_PROVIDER: "zzz" } })).toThrow(
      /HPAUTH_PROVIDER/,
    );
  });

  it("warns against --client-secret", () => {
    const r = resolveProfile({ config: empty, flags: { provider: "greenlake", clientSecret: "s" }, env: {} });
    expect(r.warnings.join()).toMatch(/visible .* in `ps`/);
  });
});

describe("writing profiles", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hpauth-cfg-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const ext of ["toml", "yaml", "json"]) {
    it(`creates ${ext} 0600 in a 0700 dir and round-trips`, async () => {
      const path = join(dir, ext, "sub", `config.${ext}`);
      await writeProfile(path, "gl", { provider: "greenlake", clientId: "id", clientSecretEnv: "GL" });
      await writeProfile(path, "w", { provider: "wxp", username: "u", passwordEnv: "P", callbackPort: 1 });
      if (process.platform !== "win32") {
        expect((await stat(path)).mode & 0o777).toBe(0o600);
        expect((await stat(join(dir, ext, "sub"))).mode & 0o777).toBe(0o700);
      }
      const c = await loadConfigFile(path, true);
      expect(c.defaultProfile).toBe("gl");
      expect(c.profiles.w).toEqual({ provider: "wxp", username: "u", passwordEnv: "P", callbackPort: 1 });
      expect(await readFile(path, "utf8")).toContain("client_secret_env");
      expect(await removeProfile(path, "gl")).toBe(true);
      const after = await loadConfigFile(path, true);
      expect(Object.keys(after.profiles)).toEqual(["w"]);
      expect(after.defaultProfile).toBeUndefined();
    });
  }

  it("keeps YAML comments", async () => {
    const path = join(dir, "c.yaml");
    await writeFile(path, "# my precious comment\nprofiles:\n  a:\n    provider: wxp # inline\n");
    await writeProfile(path, "b", { provider: "greenlake" });
    const text = await readFile(path, "utf8");
    expect(text).toContain("# my precious comment");
    expect((await loadConfigFile(path, true)).profiles.b).toEqual({ provider: "greenlake" });
  });

  it("refuses to overwrite a file it cannot parse", async () => {
    const path = join(dir, "bad.toml");
    await writeFile(path, "[profiles\n");
    await expect(writeProfile(path, "a", { provider: "wxp" })).rejects.toThrow(/cannot be parsed/);
    expect(await readFile(path, "utf8")).toBe("[profiles\n");
  });

  it("a missing explicit config file is an error, a missing default one is empty", async () => {
    await expect(loadConfigFile(join(dir, "nope.toml"), true)).rejects.toThrow(/nope.toml: does not exist/);
    expect((await loadConfigFile(join(dir, "nope.toml"), false)).exists).toBe(false);
  });
});

describe("proxy and ca_file fields", () => {
  it("come from the file (snake case), HPAUTH_PROXY / HPAUTH_CA_FILE and --proxy / --ca-file, flags first", () => {
    const config = {
      path: "/x/config.toml",
      exists: true,
      format: "toml",
      profiles: { gl: { provider: "greenlake", proxy: "http://file:1", caFile: "/file.pem" } },
      warnings: [],
    } as never;
    const fromFile = resolveProfile({ config, flags: {}, env: {}, profileName: "gl" });
    expect(fromFile.profile).toMatchObject({ proxy: "http://file:1", caFile: "/file.pem" });
    const fromEnv = resolveProfile({
      config,
      flags: {},
      env: { HPAUTH_PROXY: "http://env:2", HPAUTH_CA_FILE: "/env.pem" },
      profileName: "gl",
    });
    expect(fromEnv.profile).toMatchObject({ proxy: "http://env:2", caFile: "/env.pem" });
    const fromFlags = resolveProfile({
      config,
      flags: { proxy: "http://u:pw-in-argv@flag:3" },
      env: { HPAUTH_PROXY: "http://env:2" },
      profileName: "gl",
    });
    expect(fromFlags.profile.proxy).toBe("http://u:pw-in-argv@flag:3");
    expect(fromFlags.warnings.join("\n")).toContain("proxy password given in --proxy is visible");
  });

  it("a proxy password is masked wherever a profile is shown", async () => {
    const { maskProfile } = await import("../../src/config/resolve.js");
    expect(maskProfile({ provider: "greenlake", proxy: "http://alice:s3cret@proxy:3128" })).toMatchObject({
      proxy: "http://alice:********@proxy:3128",
    });
    expect(maskProfile({ provider: "greenlake", proxy: "http://proxy:3128" }).proxy).toBe("http://proxy:3128");
  });
});
