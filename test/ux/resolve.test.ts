/**
 * Flags and HPAUTH_* variables over the config file, through the built CLI and the emulator (issue 7.14): a flag or
 * variable naming one source of a secret replaces the file's other source of that secret, and a one-off
 * `--provider` run borrows nothing from the default profile.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, hpauth } from "./helpers.js";

type Creds = Record<string, string> & { baseUrl: string };

describe("flags override the config file (built CLI)", () => {
  let emu: { providers: Record<string, Creds>; close(): Promise<void> };
  let dir: string;
  let gl: Creds;
  let n = 0;
  const store = () => join(dir, `store-${n++}`);

  beforeAll(async () => {
    await buildCli();
    const { startEmulator } = await import("../../src/emulator/index.js");
    emu = (await startEmulator()) as never;
    gl = emu.providers.greenlake!;
    dir = await mkdtemp(join(tmpdir(), "hpauth-ux-resolve-"));
  }, 200_000);
  afterAll(async () => {
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function config(secretLine: string): Promise<string> {
    const path = join(dir, `config-${n++}.toml`);
    await writeFile(
      path,
      `default_profile = "gl"\n[profiles.gl]\nprovider = "greenlake"\nbase_url = "${gl.baseUrl}"\nclient_id = "${gl.clientId}"\n${secretLine}\n`,
    );
    return path;
  }

  const cases: Array<[string, string, string[], (secret: string) => Record<string, string>]> = [
    [
      "--client-secret-env over the file's client_secret_command",
      'client_secret_command = "exit 3"',
      ["--client-secret-env", "MY_GL_SECRET"],
      (s) => ({ MY_GL_SECRET: s }),
    ],
    [
      "--client-secret-command over the file's client_secret_env",
      'client_secret_env = "UNSET_VAR"',
      ["--client-secret-command", 'printf %s "$MY_GL_SECRET"'],
      (s) => ({ MY_GL_SECRET: s }),
    ],
    [
      "HPAUTH_CLIENT_SECRET over the file's client_secret_env",
      'client_secret_env = "UNSET_VAR"',
      [],
      (s) => ({ HPAUTH_CLIENT_SECRET: s }),
    ],
    [
      "HPAUTH_CLIENT_SECRET_ENV over the file's inline client_secret",
      'client_secret = "wrong-secret-in-file"',
      [],
      (s) => ({ HPAUTH_CLIENT_SECRET_ENV: "MY_GL_SECRET", MY_GL_SECRET: s }),
    ],
  ];
  it.each(cases)(
    "%s",
    async (_n, secretLine, flags, env) => {
      const path = await config(secretLine);
      const r = await hpauth(["token", "-c", path, "--store-dir", store(), ...flags], env(gl.clientSecret!));
      expect(r.err).not.toMatch(/only one of/);
      expect(r.code, r.err).toBe(0);
      expect(r.out.trim().length).toBeGreaterThan(10);
      expect(r.err).not.toContain(gl.clientSecret!);
    },
    30_000,
  );

  it("two sources at the same level are still refused, naming the config keys", async () => {
    const path = await config('client_secret_env = "A"\nclient_secret_command = "echo x"');
    const r = await hpauth(["token", "-c", path, "--store", "memory"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/only one of client_secret, client_secret_env or client_secret_command/);
  }, 30_000);

  it("a one-off --provider run does not borrow the default profile's credentials", async () => {
    const path = await config('client_secret_env = "MY_GL_SECRET"');
    // Same provider as the default profile, but no client id and no secret on the command line: before, the
    // default profile's client id and secret were merged in silently and a token for that account came back.
    const r = await hpauth(
      ["token", "-c", path, "--store", "memory", "--provider", "greenlake", "--base-url", gl.baseUrl],
      {
        MY_GL_SECRET: gl.clientSecret!,
      },
    );
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/client_id: required/);
    // With its own credentials, the one-off profile works, and `-p gl --field` still overrides the file's profile.
    const own = await hpauth(
      [
        "token",
        "-c",
        path,
        "--store",
        "memory",
        "--provider",
        "greenlake",
        "--base-url",
        gl.baseUrl,
        "--client-id",
        gl.clientId!,
        "--client-secret-env",
        "MY_GL_SECRET",
      ],
      { MY_GL_SECRET: gl.clientSecret! },
    );
    expect(own.code, own.err).toBe(0);
    const overridden = await hpauth(
      ["token", "-c", path, "--store", "memory", "-p", "gl", "--client-id", "someone-else"],
      {
        MY_GL_SECRET: gl.clientSecret!,
      },
    );
    expect(overridden.code).toBe(3);
  }, 30_000);
});
