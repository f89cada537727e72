import { describe, expect, it } from "vitest";
import { fastTokenArgv, main, parseArgv } from "../../src/cli/main.js";
import { HpauthError } from "../../src/engine/errors.js";
import { capture } from "./helpers.js";

describe("parseArgv", () => {
  const cases: [string[], string, Record<string, unknown>][] = [
    [["token"], "token", { json: false, forceRefresh: false, fields: {} }],
    [
      ["token", "--json", "--min-ttl", "300", "--force-refresh"],
      "token",
      { json: true, minTtl: 300, forceRefresh: true },
    ],
    [["--json", "token"], "token", { json: true }],
    [["-p", "work", "header"], "header", { profile: "work" }],
    [["header", "--profile", "work", "--config", "/c.toml"], "header", { profile: "work", config: "/c.toml" }],
    [
      [
        "token",
        "--provider",
        "greenlake",
        "--client-id",
        "abc",
        "--client-secret-env",
        "GL_SECRET",
        "--base-url",
        "http://127.0.0.1:1",
      ],
      "token",
      {
        fields: { provider: "greenlake", clientId: "abc", clientSecretEnv: "GL_SECRET", baseUrl: "http://127.0.0.1:1" },
      },
    ],
    [["token", "--no-pkce", "--callback-port", "8765"], "token", { fields: { pkce: false, callbackPort: "8765" } }],
    [["token", "--pkce"], "token", { fields: { pkce: true } }],
    [
      ["token", "--token-params", "audience=api", "--token-params", "x=a b"],
      "token",
      { fields: { tokenParams: "audience=api&x=a+b" } },
    ],
    [["status", "--no-color", "-v", "-q"], "status", { color: false, verbose: true, quiet: true }],
    [["inspect", "--token", "-"], "inspect", { token: "-" }],
    [["logout", "--all"], "logout", { all: true }],
    [["logout"], "logout", { all: false }],
    [["profiles"], "profiles", { action: "list" }],
    [["profiles", "list", "--json"], "profiles", { action: "list", json: true }],
    [["profiles", "show", "work"], "profiles", { action: "show", name: "work" }],
    [
      ["profiles", "add", "gl", "--provider", "greenlake", "--default", "--non-interactive"],
      "profiles",
      { action: "add", name: "gl", makeDefault: true, nonInteractive: true, fields: { provider: "greenlake" } },
    ],
    [["profiles", "rm", "work"], "profiles", { action: "remove", name: "work" }],
    [["token", "--store", "memory", "--store-dir", "/tmp/x"], "token", { store: "memory", storeDir: "/tmp/x" }],
    [["status", "--store", "redis://127.0.0.1:6379/0"], "status", { store: "redis://127.0.0.1:6379/0" }],
    [["token", "--store=rediss://u@h:6380"], "token", { store: "rediss://u@h:6380" }],
    [["demo", "--json"], "demo", { json: true }],
    [["emulate", "--port", "9400"], "emulate", { port: 9400 }],
    [["login", "--no-browser"], "login", { browser: false }],
  ];
  it.each(cases)("%j → %s", (argv, command, expected) => {
    const parsed = parseArgv(argv);
    expect(parsed.command).toBe(command);
    expect(parsed.options).toMatchObject(expected);
  });

  it.each([
    [["emulate"], { json: false, verbose: false }],
    [
      ["emulate", "--json", "-v", "--host", "0.0.0.0", "--port", "9400", "--config", "/e.toml"],
      { json: true, verbose: true, host: "0.0.0.0", port: 9400, config: "/e.toml" },
    ],
    [
      ["emulate", "--techpulse-expires-in-ms", "--revoke-family-on-reuse"],
      { json: false, verbose: false, techpulseExpiresInMillis: true, revokeFamilyOnRefreshReuse: true },
    ],
  ])("emulate %j → RunEmulateOptions %j", (argv, expected) => {
    expect(parseArgv(argv).options).toEqual(expected);
  });

  it.each([
    [["login"], { browser: true }],
    [["login", "--no-browser", "--port", "8765", "--timeout", "90"], { browser: false, port: 8765, timeout: 90 }],
    [["login", "--paste"], { browser: true, paste: true }],
    [["login", "--import", "tok.json", "-p", "aruba"], { import: "tok.json", profile: "aruba" }],
    [["login", "--import", "-"], { import: "-" }],
    [["login", "--import-tokens", "--json"], { importTokens: true, json: true }],
    [["login", "--callback-port", "9000"], { fields: { callbackPort: "9000" } }],
  ])("login %j → RunLoginOptions %j", (argv, expected) => {
    const o = parseArgv(argv).options;
    expect(o).toMatchObject(expected);
    if (!("port" in expected)) expect(o).not.toHaveProperty("port");
  });

  it.each([
    [["login", "--timeout", "0"], /--timeout must be a positive number/],
    [["login", "--port", "70000"], /--port must be/],
    [["emulate", "--port", "x"], /--port must be/],
  ])("%j → usage error", (argv, re) => {
    expect(() => parseArgv(argv)).toThrow(re);
  });

  it("keeps profile fields out of the command options", () => {
    const { options } = parseArgv(["token", "--client-id", "x"]);
    expect(options).not.toHaveProperty("clientId");
  });

  it.each([
    [["token", "--bogus"], /unknown option '--bogus'/],
    [["tokn"], /unknown command 'tokn'/],
    [["token", "--min-ttl", "abc"], /--min-ttl/],
    [["token", "--store", "redis"], /--store must be file, memory or a redis/],
    [["status", "--store", "http://h"], /--store must be file, memory or a redis/],
    [["profiles", "show"], /missing required argument/],
  ])("%j → usage error", (argv, re) => {
    try {
      parseArgv(argv);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(HpauthError);
      expect((e as HpauthError).exitCode).toBe(2);
      expect((e as HpauthError).message).toMatch(re);
    }
  });

  it("help is text, not a command, and teaches", () => {
    const top = parseArgv(["--help"]);
    expect(top.command).toBe("help");
    expect(top.text).toMatch(/Exit codes:/);
    expect(top.text).toMatch(/130 {2}cancelled/);
    expect(top.text).toMatch(/--client-secret-env/);
    for (const cmd of ["token", "header", "status", "inspect", "logout", "profiles", "login", "emulate", "demo"]) {
      const h = parseArgv([cmd, "--help"]);
      expect(h.command, cmd).toBe("help");
      expect(h.text, cmd).toMatch(/Examples:\n {2}\$ .*hpauth/);
    }
  });

  it("each command's --help lists the global options that apply to it, and only those", () => {
    const helpOf = (argv: string[]) => parseArgv([...argv, "--help"]).text ?? "";
    for (const cmd of ["token", "header", "status", "inspect", "logout", "login", "profiles"]) {
      const h = helpOf([cmd]);
      expect(h, cmd).toMatch(/Global Options:\n/);
      for (const flag of ["-p, --profile <name>", "-c, --config <path>", "--json", "--store <kind>", "--store-dir"])
        expect(h, `${cmd} ${flag}`).toContain(flag);
      expect(h, cmd).toMatch(/Profile fields \(override[^\n]*\n {2}--provider/);
      expect(h, cmd).not.toContain("--version");
    }
    // Subcommands show them too.
    expect(helpOf(["profiles", "add"])).toMatch(/Global Options:[\s\S]*-p, --profile/);
    // demo uses no config, no profile, no store; emulate takes --config (emulator options) but no profile.
    const demo = helpOf(["demo"]);
    expect(demo).toMatch(/Global Options:[\s\S]*--json/);
    for (const flag of ["--profile", "--config", "--store", "--client-id"]) expect(demo).not.toContain(flag);
    const emulate = helpOf(["emulate"]);
    expect(emulate).toContain("-c, --config <path>");
    for (const flag of ["--profile", "--store", "--client-id"]) expect(emulate).not.toContain(flag);
  });

  it("a redis:// store with a password in argv is a usage error; a bad HPAUTH_STORE too", async () => {
    const c = capture({ S: "x" });
    const code = await main(
      ["status", "--store", "redis://u:hunter2@127.0.0.1:1/0", "--provider", "greenlake", "--client-id", "x"],
      c.io,
    );
    expect(code, c.err()).toBe(2);
    expect(c.err()).toMatch(/contains a password; refusing it/);
    expect(c.err()).not.toContain("hunter2");
    const env = capture({ HPAUTH_STORE: "nope" });
    expect(await main(["status", "--provider", "greenlake", "--client-id", "x"], env.io)).toBe(2);
    expect(env.err()).toMatch(/HPAUTH_STORE must be file, memory or a redis/);
  });

  it("bare `hpauth` shows help as a usage error", () => {
    const r = parseArgv([]);
    expect(r.command).toBe("help");
    expect(r.options.usageError).toBe(true);
  });
});

describe("fastTokenArgv: `token` / `header` parsed without commander, exactly as commander parses them", () => {
  const SAME: string[][] = [
    ["token"],
    ["header"],
    ["token", "--json"],
    ["--json", "token"],
    ["-p", "work", "token"],
    ["token", "-p", "work", "-c", "/c.toml", "-v", "-q", "--no-color"],
    ["token", "--min-ttl", "300", "--force-refresh"],
    ["token", "--min-ttl=0", "--json"],
    ["token", "--min-ttl", "1.5e3"],
    ["header", "--force-refresh", "--min-ttl", "60", "--json"],
    ["token", "--min-ttl", "5", "--json", "-p", "x"],
    ["token", "--min-ttl", "5", "--min-ttl", "7"],
    ["token", "--store", "memory", "--store-dir", "/tmp/x"],
    ["token", "--store=file", "--store-dir=/tmp/y"],
    ["token", "--store", "redis://127.0.0.1:6379/0"],
    ["token", "--profile=work", "--config=/a=b.toml"],
    ["-p", "a", "token", "-p", "b"],
    ["token", "--client-id", "-starts-with-dash"],
    ["token", "--client-id", "token"],
    ["token", "--client-id", ""],
    [
      "token",
      "--provider",
      "greenlake",
      "--base-url",
      "http://127.0.0.1:1",
      "--client-id",
      "abc",
      "--client-secret-env",
      "GL_SECRET",
      "--store-dir",
      "/s",
    ],
    ["token", "--no-pkce", "--callback-port", "8765"],
    ["token", "--pkce", "--no-pkce"],
    ["token", "--token-params", "audience=api", "--token-params", "x=a b", "--token-params=y=1"],
    ["token", "--min-ttl", "5", "--token-params", "a=1"],
    ["token", "--min-ttl=", "--store-dir", "-"],
    ["token", "--timeout", "5", "--json"],
    ["header", "--timeout=0.5", "--min-ttl", "60"],
    ["token", "--format", "az"],
    ["token", "--format=exec-credential", "-p", "x"],
    ["token", "--format", "env", "--env", "MY_TOKEN"],
    ["token", "--json", "--format", "json"],
  ];
  it.each(SAME)("%j: fast path taken, same result as commander", (...argv) => {
    expect(fastTokenArgv(argv)).toBeDefined();
    expect(parseArgv(argv)).toEqual(parseArgv(argv, true));
  });

  // Everything else goes to commander, so errors and unusual forms behave as before.
  const FALLBACK: string[][] = [
    ["token", "--help"],
    ["token", "-h"],
    ["-V"],
    ["help", "token"],
    ["token", "--", "x"],
    ["token", "extra"],
    ["token", "header"],
    ["status"],
    ["profiles", "list"],
    ["--min-ttl", "5", "token"],
    ["token", "--bogus"],
    ["token", "--min-ttl"],
    ["token", "--min-ttl", "--json"],
    ["token", "--min-ttl", "abc"],
    ["token", "--min-ttl", "-5"],
    ["token", "--force-refresh=yes"],
    ["token", "--json=true"],
    ["token", "--store", "redis"],
    ["token", "-qv"],
    ["token", "-pwork"],
    ["token", "--client-id"],
    ["token", "-5"],
    ["token", "--timeout", "0"],
    ["token", "--timeout"],
    ["token", "--format", "bazel", "get"],
    ["token", "--format", "yaml"],
    ["header", "--format", "az"],
    [],
  ];
  it.each(FALLBACK)("%j: left to commander", (...argv) => {
    expect(fastTokenArgv(argv)).toBeUndefined();
  });

  it.each([
    [["token", "--min-ttl", "--json"], /--min-ttl/],
    [["token", "--min-ttl", "-5"], /--min-ttl must be a number of seconds/],
    [["token", "--force-refresh=yes"], /--force-refresh/],
    [["token", "extra"], /takes no argument "extra"/],
    [["token", "--format", "yaml"], /--format must be one of raw, json/],
    [["header", "--format", "az"], /unknown option '--format'/],
    [["token", "--format", "az", "get"], /takes no argument "get"/],
    [["token", "--timeout", "0"], /--timeout must be a positive number/],
  ])("%j → the same usage error as before", (argv, re) => {
    expect(() => parseArgv(argv)).toThrow(re);
  });
});
