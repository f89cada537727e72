/**
 * `hpauth profiles add` in a real pseudo-terminal (util-linux `script`), the built CLI: what a person sees and types
 * (issue 7.9, 7.10, 7.15). Each step waits for the question on screen, then types the answer and Enter.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bin, buildCli } from "./helpers.js";

const hasScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Strips the terminal's control sequences (cursor moves, erase-line) from the captured screen. */
const screen = (raw: string) => raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");

describe.skipIf(!hasScript || process.platform !== "linux")("profiles add on a terminal (built CLI)", () => {
  let dir: string;
  const children: ChildProcessWithoutNullStreams[] = [];
  let n = 0;

  beforeAll(async () => {
    await buildCli();
    dir = mkdtempSync(join(tmpdir(), "hpauth-ux-pty-"));
  }, 200_000);
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  function run(args: string, env: Record<string, string> = {}) {
    const config = join(dir, `config-${n++}.toml`);
    // The command line is ours (a temp path, fixed words); no secret is ever on it: secrets are typed.
    const child = spawn("script", ["-q", "-e", "-c", `${process.execPath} ${bin} profiles add ${args}`, "/dev/null"], {
      env: {
        PATH: process.env.PATH ?? "",
        TERM: "dumb",
        HOME: join(dir, "home"),
        XDG_CONFIG_HOME: join(dir, "xdg"),
        HPAUTH_CONFIG: config,
        ...env,
      },
    });
    children.push(child);
    let out = "";
    child.stdout.on("data", (c) => {
      out += c.toString();
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    let seen = 0;
    /** Waits until `text` shows up after everything answered so far, then types `answer` and Enter. */
    const answer = async (text: string | RegExp, typed: string) => {
      const t0 = Date.now();
      for (;;) {
        const rest = screen(out).slice(seen);
        const m = typeof text === "string" ? rest.indexOf(text) : rest.search(text);
        if (m >= 0) {
          seen += m + 1;
          break;
        }
        if (Date.now() - t0 > 15_000) throw new Error(`no "${String(text)}" on screen:\n${screen(out)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      child.stdin.write(`${typed}\r`);
    };
    return { child, config, out: () => screen(out), raw: () => out, exited, answer };
  }

  it("reads a secret without echo (--save-secrets), and stores it in a 0600 file", async () => {
    const secret = "supersecret-typed-9f3k";
    const p = run("gl --save-secrets");
    await p.answer("Provider (", "greenlake");
    await p.answer("DSCC API region", "eu1");
    await p.answer("API client id", "my-client");
    await p.answer("Environment variable holding the client secret", "");
    await p.answer("Command that prints the client secret", "");
    await p.answer("Client secret (not shown):", secret);
    expect(await p.exited, p.out()).toBe(0);
    expect(p.raw()).not.toContain(secret);
    expect(p.out()).toContain('Saved profile "gl"');
    expect(readFileSync(p.config, "utf8")).toContain(`client_secret = "${secret}"`);
    expect(statSync(p.config).mode & 0o777).toBe(0o600);
  }, 40_000);

  it("Ctrl-C at a question: exit 130, Cancelled, nothing written", async () => {
    const p = run("work");
    await p.answer("Provider (", "\x03");
    expect(await p.exited).toBe(130);
    expect(p.out()).toContain("Cancelled");
    expect(p.out()).not.toMatch(/internal error|AbortError|bug/);
    expect(() => statSync(p.config)).toThrow(/ENOENT/);
  }, 40_000);

  it("Ctrl-C at the hidden secret prompt: exit 130", async () => {
    const p = run("gl --save-secrets");
    await p.answer("Provider (", "greenlake");
    await p.answer("DSCC API region", "");
    await p.answer("API client id", "c");
    await p.answer("Environment variable holding the client secret", "");
    await p.answer("Command that prints the client secret", "");
    await p.answer("Client secret (not shown):", "half-typed\x03");
    expect(await p.exited).toBe(130);
    expect(p.raw()).not.toContain("half-typed");
  }, 40_000);

  it("suggests aruba-central for aruba, re-asks with the reason, takes a URL where the region prompt offers one", async () => {
    const p = run("aruba");
    await p.answer("Provider (", "aruba");
    await p.answer("did you mean aruba-central?", "aruba-central");
    await p.answer("cluster:", "EU-7");
    await p.answer("Not a cluster (did you mean EU-1?): choose one of", "http://example.com");
    await p.answer("must use https://", "https://apigw-eu.example.com");
    await p.answer("client id of the API Gateway application", "cid");
    await p.answer("Environment variable holding the client secret", "typedsecret123");
    await p.answer("does not look like a variable name", "ARUBA_SECRET");
    await p.answer("Central customer id", "");
    await p.answer("Central user", "");
    await p.answer("Environment variable holding the password", "");
    await p.answer("Command that prints the password", "");
    await p.answer("all (read-write, default) or read", "");
    expect(await p.exited, p.out()).toBe(0);
    const text = readFileSync(p.config, "utf8");
    expect(text).toContain('base_url = "https://apigw-eu.example.com"');
    expect(text).toContain('client_secret_env = "ARUBA_SECRET"');
    expect(text).not.toContain("typedsecret123");
    expect(text).not.toMatch(/^region/m);
    // Messages name config-file keys, never TypeScript properties.
    expect(p.out()).not.toMatch(/\b(baseUrl|apiBaseUrl|clientSecretEnv|clientId)\b/);
  }, 40_000);

  it("new-central: the cluster by name (any case), the workspace, the tenant optional", async () => {
    const p = run("central");
    await p.answer("Provider (", "new-central");
    await p.answer("New Central cluster (", "eu-central2");
    await p.answer("API client id", "cid");
    await p.answer("Environment variable holding the client secret", "GLP_SECRET");
    await p.answer("workspace id of the API client", "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9");
    await p.answer("MSP only: a tenant workspace", "");
    expect(await p.exited, p.out()).toBe(0);
    const text = readFileSync(p.config, "utf8");
    expect(text).toContain('provider = "new-central"');
    expect(text).toContain('region = "EU-Central2"');
    expect(text).toContain('workspace_id = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"');
    expect(text).not.toContain("tenant_workspace_id");
    expect(p.out()).not.toMatch(/\b(workspaceId|tenantWorkspaceId|apiBaseUrl)\b/);
  }, 40_000);

  it("oauth2 asks only what the grant needs", async () => {
    const p = run("svc");
    await p.answer("Provider (", "oauth2");
    await p.answer("Grant type", "client_credentials");
    await p.answer("issuer", "");
    await p.answer("token endpoint", "https://idp.example.com/token");
    await p.answer("client id", "svc-client");
    await p.answer("Environment variable holding the client secret", "SVC_SECRET");
    await p.answer("scope", "api.read");
    expect(await p.exited, p.out()).toBe(0);
    // No resource owner, no browser questions for client_credentials.
    expect(p.out()).not.toMatch(/resource owner|redirect URI|authorization endpoint|holding the password/i);
    const text = readFileSync(p.config, "utf8");
    expect(text).toContain('grant_type = "client_credentials"');
    expect(text).toContain('token_url = "https://idp.example.com/token"');
  }, 40_000);

  it("keeps the comments of a hand-written TOML file", async () => {
    const p = run("extra");
    const original = `# my hpauth config, hand written\ndefault_profile = "gl"  # the usual one\n\n[profiles.gl]\nprovider = "greenlake"\nregion = "eu1"  # Europe\nclient_id = "abc"\nclient_secret_env = "GL_SECRET"\n`;
    writeFileSync(p.config, original);
    await p.answer("Provider (", "wxp");
    await p.answer("WXP Collaboration user name", "me@example.com");
    await p.answer("Environment variable holding the password", "WXP_PASSWORD");
    await p.answer("OAuth client", "");
    expect(await p.exited, p.out()).toBe(0);
    const text = readFileSync(p.config, "utf8");
    expect(text.startsWith(original.trimEnd())).toBe(true);
    expect(text).toContain(
      '[profiles.extra]\nprovider = "wxp"\nusername = "me@example.com"\npassword_env = "WXP_PASSWORD"',
    );
  }, 40_000);
});
