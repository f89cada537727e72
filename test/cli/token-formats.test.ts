/**
 * `hpauth token --format <f>` in the built CLI, each output given to a parser of its format rather than compared as
 * a string: JSON Schemas (ajv) written from the tools' own definitions (test/cli/fixtures/schemas), a real kubectl
 * running hpauth as its exec credential plugin against a small API server that checks the bearer, Python's
 * strptime for az's local time, and a real bash `eval` for env. Every token is also checked against the emulator's
 * protected API, so "valid JSON" is not enough: the token in it must work. The snippets of docs/token-formats.md
 * (kubeconfig exec block, Bazel wrapper and .bazelrc line, eval lines) are run as written, `hpauth` being this build.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { shellQuote } from "../../src/cli/token-formats.js";
import { BUILT_CLI, runBuiltCli } from "./helpers.js";

const run = promisify(execFile);
const schemaDir = new URL("./fixtures/schemas/", import.meta.url);
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
addFormats.default(ajv);
const validator = (file: string) => ajv.compile(JSON.parse(readFileSync(new URL(file, schemaDir), "utf8")));
const validExecCredential = validator("exec-credential.schema.json");
const validBazel = validator("bazel-get-credentials-response.schema.json");
const validAz = validator("az-access-token.schema.json");

type Creds = Record<string, string> & { baseUrl: string };

async function commandExists(cmd: string): Promise<boolean> {
  return run("sh", ["-c", `command -v ${cmd}`]).then(
    () => true,
    () => false,
  );
}

describe("hpauth token --format", () => {
  let emu: { providers: Record<string, Creds>; adminUrl: string; close(): Promise<void> };
  let dir: string;
  let env: Record<string, string>;
  let flags: string[];

  /** Whether the emulator's GreenLake API takes this Authorization header value. */
  const apiAccepts = async (authorization: string) =>
    (
      await fetch(new URL("/api/v1/storage-systems", emu.providers.greenlake!.baseUrl), {
        headers: { authorization },
      })
    ).status === 200;

  beforeAll(async () => {
    const { startEmulator } = await import("../../src/emulator/index.js");
    emu = (await startEmulator()) as never;
    dir = await mkdtemp(join(tmpdir(), "hpauth-formats-"));
    const gl = emu.providers.greenlake!;
    env = { GL_SECRET: gl.clientSecret! };
    flags = [
      "--provider",
      "greenlake",
      "--base-url",
      gl.baseUrl,
      "--client-id",
      gl.clientId!,
      "--client-secret-env",
      "GL_SECRET",
      "--store-dir",
      join(dir, "store"),
    ];
  });
  afterAll(async () => {
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const token = async (args: string[], extraEnv: Record<string, string> = {}, stdin?: string) => {
    const r = await runBuiltCli(["token", ...flags, ...args], { ...env, ...extraEnv }, stdin);
    expect(r.code, r.err).toBe(0);
    return r.out;
  };

  it("raw (the default) and --format json = --json", async () => {
    const raw = (await token([])).trim();
    expect(await apiAccepts(`Bearer ${raw}`)).toBe(true);
    const viaFormat = JSON.parse(await token(["--format", "json"]));
    const viaFlag = JSON.parse(await token(["--json"]));
    const { expires_in: a, ...formatRest } = viaFormat;
    const { expires_in: b, ...flagRest } = viaFlag;
    expect(formatRest).toEqual(flagRest);
    expect(Math.abs(a - b)).toBeLessThanOrEqual(2); // the seconds left, a moment apart
    expect(viaFormat.access_token).toBe(raw);
  });

  it("header: an HTTP header line the API takes", async () => {
    const line = (await token(["--format", "header"])).replace(/\n$/, "");
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+): (.+)$/.exec(line); // RFC 9110 field-name ":" OWS field-value
    expect(m?.[1]).toBe("Authorization");
    expect(await apiAccepts(m![2]!)).toBe(true);
  });

  it("az: az's JSON; expiresOn is local time, read back with Python's strptime as the Azure SDK does", async () => {
    for (const tz of ["UTC", "Asia/Kolkata", "America/St_Johns"]) {
      const out = await token(["--format", "az"], { TZ: tz });
      const body = JSON.parse(out);
      expect(validAz(body), JSON.stringify(validAz.errors)).toBe(true);
      expect(await apiAccepts(`${body.tokenType} ${body.accessToken}`)).toBe(true);
      // az prints JSON with indent 2 and sorted keys: the same text back from Python's json.dumps(sort_keys=True).
      const { stdout } = await pyStdin(
        "import sys,json,datetime; d=json.load(sys.stdin); " +
          "print(int(datetime.datetime.strptime(d['expiresOn'], '%Y-%m-%d %H:%M:%S.%f').timestamp())); " +
          "print(json.dumps(d, indent=2, sort_keys=True))",
        out,
        tz,
      );
      const [local, ...dumped] = stdout.trimEnd().split("\n");
      expect(Number(local)).toBe(body.expires_on);
      expect(dumped.join("\n")).toBe(out.trimEnd());
    }
  });

  it("exec-credential: a valid ExecCredential, in the apiVersion KUBERNETES_EXEC_INFO asks for", async () => {
    const v1 = JSON.parse(await token(["--format", "exec-credential"]));
    expect(validExecCredential(v1), JSON.stringify(validExecCredential.errors)).toBe(true);
    expect(v1.apiVersion).toBe("client.authentication.k8s.io/v1");
    expect(await apiAccepts(`Bearer ${v1.status.token}`)).toBe(true);
    expect(Date.parse(v1.status.expirationTimestamp)).toBeGreaterThan(Date.now());

    const info = {
      kind: "ExecCredential",
      apiVersion: "client.authentication.k8s.io/v1beta1",
      spec: { interactive: false },
    };
    const beta = JSON.parse(
      await token(["--format", "exec-credential"], { KUBERNETES_EXEC_INFO: JSON.stringify(info) }),
    );
    expect(validExecCredential(beta), JSON.stringify(validExecCredential.errors)).toBe(true);
    expect(beta.apiVersion).toBe("client.authentication.k8s.io/v1beta1");

    const bad = await runBuiltCli(["token", ...flags, "--format", "exec-credential"], {
      ...env,
      KUBERNETES_EXEC_INFO: JSON.stringify({ ...info, apiVersion: "client.authentication.k8s.io/v1alpha1" }),
    });
    expect(bad.code).toBe(2);
    expect(bad.out).toBe("");
    expect(bad.err).toContain("users[].user.exec.apiVersion");
  });

  it("bazel: `token --format bazel get` reads Bazel's request and answers per the credential-helper spec", async () => {
    const out = await token(["--format", "bazel", "get"], {}, JSON.stringify({ uri: "https://cache.example/x" }));
    const body = JSON.parse(out);
    expect(validBazel(body), JSON.stringify(validBazel.errors)).toBe(true);
    expect(body.headers.Authorization).toHaveLength(1);
    expect(await apiAccepts(body.headers.Authorization[0])).toBe(true);
    expect(Date.parse(body.expires)).toBeGreaterThan(Date.now());
    // Without `get` (by hand) the same answer, no stdin read.
    expect(validBazel(JSON.parse(await token(["--format", "bazel"])))).toBe(true);
    // Input a helper does not understand: refused (exit 2), nothing on stdout.
    const bad = await runBuiltCli(["token", ...flags, "--format", "bazel", "get"], env, "not json");
    expect(bad.code).toBe(2);
    expect(bad.out).toBe("");
  });

  it("env: a real bash evals it into the variables `hpauth exec` sets", async () => {
    const raw = (await token([])).trim();
    const script = `eval "$(${shellQuote(process.execPath)} ${shellQuote(BUILT_CLI)} token ${flags
      .map(shellQuote)
      .join(" ")} --format env --env MY_TOKEN)" && printf '%s\\n%s\\n' "$MY_TOKEN" "$HPAUTH_TOKEN_EXPIRES_AT"`;
    const { stdout } = await run("bash", ["-c", script], {
      env: { PATH: process.env.PATH ?? "", HOME: join(tmpdir(), "hpauth-no-home"), ...env },
    });
    const [value, expires] = stdout.split("\n");
    expect(value).toBe(raw);
    expect(expires).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const bad = await runBuiltCli(["token", ...flags, "--format", "env", "--env", "1-X"], env);
    expect(bad.code).toBe(2);
    expect(bad.out).toBe("");
  });

  it("env quoting survives every awkward byte in a real bash", async () => {
    for (const value of [`a'b`, `'`, `$(touch /tmp/x)`, "a b\tc\nd", "\\'\"`!*?[]{}~#;&|<>", ""]) {
      const { stdout } = await run("bash", ["-c", `X=${shellQuote(value)}; printf %s "$X"`]);
      expect(stdout).toBe(value);
    }
  });

  it("usage errors: an unknown format, --json with another format, --env without env, a stray argument", async () => {
    for (const args of [
      ["--format", "yaml"],
      ["--json", "--format", "az"],
      ["--env", "X"],
      ["get"],
      ["--format", "az", "get"],
    ]) {
      const r = await runBuiltCli(["token", ...flags, ...args], env);
      expect(r.code, args.join(" ")).toBe(2);
    }
  });

  describe("a real kubectl runs hpauth as its exec credential plugin", () => {
    let api: Server;
    let apiUrl: string;
    let caData: string;
    const seen: string[] = [];

    beforeAll(async () => {
      // HTTPS: client-go sends an exec plugin's token only over TLS. A throwaway self-signed certificate for 127.0.0.1.
      await run(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=hpauth kubectl test",
          "-addext",
          "subjectAltName=IP:127.0.0.1",
          "-keyout",
          "k8s.key",
          "-out",
          "k8s.crt",
        ],
        { cwd: dir },
      );
      const cert = await readFile(join(dir, "k8s.crt"));
      caData = cert.toString("base64");
      api = createServer({ key: await readFile(join(dir, "k8s.key")), cert }, async (req, res) => {
        // The fake API server takes only a bearer token the emulator's API takes.
        const auth = req.headers.authorization ?? "";
        seen.push(auth.replace(/ .*/, ""));
        const ok = auth.startsWith("Bearer ") && (await apiAccepts(auth));
        res.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
        res.end(
          ok
            ? JSON.stringify({ hpauth: "ok", path: req.url })
            : JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", code: 401 }),
        );
      });
      await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
      apiUrl = `https://127.0.0.1:${(api.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((r) => api?.close(r));
    });

    /** kubectl's client version (minor), or undefined when there is no kubectl. */
    async function kubectlMinor(): Promise<number | undefined> {
      if (!(await commandExists("kubectl"))) return undefined;
      const { stdout } = await run("kubectl", ["version", "--client", "-o", "json"]);
      return Number.parseInt(String(JSON.parse(stdout).clientVersion.minor), 10);
    }

    it("kubectl get --raw with a users[].user.exec kubeconfig (v1 on kubectl ≥ 1.22, v1beta1 always)", async () => {
      const minor = await kubectlMinor();
      // scripts/system-deps.sh installs one (Debian's kubernetes-client) where none is.
      expect(minor, "kubectl is missing: run scripts/system-deps.sh").toBeTypeOf("number");
      const versions = ["client.authentication.k8s.io/v1beta1"];
      if (minor! >= 22) versions.push("client.authentication.k8s.io/v1");
      for (const apiVersion of versions) {
        const kubeconfig = join(dir, `kubeconfig-${apiVersion.replace(/\W/g, "-")}`);
        const exec = {
          apiVersion,
          command: process.execPath,
          args: [BUILT_CLI, "token", ...flags, "--format", "exec-credential"],
          ...(apiVersion.endsWith("/v1") ? { interactiveMode: "Never" } : {}),
          // kubectl passes its own environment to the plugin: GL_SECRET reaches hpauth that way, not the file.
        };
        await writeFile(
          kubeconfig,
          JSON.stringify({
            apiVersion: "v1",
            kind: "Config",
            clusters: [{ name: "fake", cluster: { server: apiUrl, "certificate-authority-data": caData } }],
            users: [{ name: "hp", user: { exec } }],
            contexts: [{ name: "c", context: { cluster: "fake", user: "hp" } }],
            "current-context": "c",
          }),
        );
        const { stdout } = await run("kubectl", ["--kubeconfig", kubeconfig, "get", "--raw", "/api/hpauth-check"], {
          env: {
            PATH: process.env.PATH ?? "",
            HOME: join(dir, "kube-home"),
            GL_SECRET: env.GL_SECRET!,
          },
        });
        expect(JSON.parse(stdout)).toEqual({ hpauth: "ok", path: "/api/hpauth-check" });
      }
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((s) => s === "Bearer")).toBe(true);
    });

    describe("the snippets in docs/token-formats.md work as written", () => {
      const doc = readFileSync(new URL("../../docs/token-formats.md", import.meta.url), "utf8");
      /** The first ```lang block after the heading. */
      const block = (heading: string, lang: string) => {
        const from = doc.indexOf(`\n## ${heading}`);
        const fence = "```";
        const m = new RegExp(`${fence}${lang}\\n([\\s\\S]*?)${fence}`).exec(doc.slice(from));
        if (from < 0 || !m) throw new Error(`no ${lang} block under ${heading}`);
        return m[1] as string;
      };
      let docEnv: Record<string, string>;
      /** `hpauth` in a shell snippet: this build. */
      const shim = () => `hpauth() { ${shellQuote(process.execPath)} ${shellQuote(BUILT_CLI)} "$@"; }\n`;

      beforeAll(async () => {
        // The profiles the snippets name (gl, artifacts), both the emulator's GreenLake client.
        const gl = emu.providers.greenlake!;
        const profile = (name: string) =>
          [
            `[profiles.${name}]`,
            'provider = "greenlake"',
            `base_url = "${gl.baseUrl}"`,
            `client_id = "${gl.clientId}"`,
            'client_secret_env = "GL_SECRET"',
            "",
          ].join("\n");
        await writeFile(join(dir, "docs-config.toml"), profile("gl") + profile("artifacts"));
        docEnv = {
          PATH: process.env.PATH ?? "",
          HOME: join(dir, "docs-home"),
          HPAUTH_CONFIG: join(dir, "docs-config.toml"),
          HPAUTH_STORE_DIR: join(dir, "docs-store"),
          GL_SECRET: env.GL_SECRET!,
        };
      });

      it("env: the eval lines, in bash", async () => {
        const script = `${shim()}${block("`env` (eval in a shell)", "sh")}\nprintf '%s\\n%s\\n%s\\n' "$HPAUTH_TOKEN" "$HPEGL_IAM_TOKEN" "$HPAUTH_TOKEN_EXPIRES_AT"`;
        const { stdout } = await run("bash", ["-c", script], { env: docEnv });
        const [a, b, expires] = stdout.split("\n");
        expect(await apiAccepts(`Bearer ${a}`)).toBe(true);
        expect(b).toBe(a);
        expect(Date.parse(expires!)).toBeGreaterThan(Date.now());
      });

      it("bazel: the wrapper script, run the way Bazel runs it (`helper get`, the request on stdin)", async () => {
        const wrapper = join(dir, "hpauth-credential-helper");
        await writeFile(
          wrapper,
          block("`bazel` (Bazel credential helper)", "sh").replace(/^exec hpauth /m, `${shim()}hpauth `),
          {
            mode: 0o755,
          },
        );
        const out = await new Promise<string>((resolve, reject) => {
          const child = execFile(wrapper, ["get"], { env: docEnv }, (e, stdout) => (e ? reject(e) : resolve(stdout)));
          child.stdin?.end(JSON.stringify({ uri: "https://artifacts.example.com/x.tar.gz" }));
        });
        const body = JSON.parse(out);
        expect(validBazel(body), JSON.stringify(validBazel.errors)).toBe(true);
        expect(await apiAccepts(body.headers.Authorization[0])).toBe(true);
        const rc = block("`bazel` (Bazel credential helper)", "text");
        expect(rc).toMatch(/^common --credential_helper=[\w.*-]+=%workspace%\/tools\/hpauth-credential-helper$/m);
      });

      it("kubectl: the kubeconfig user's exec block, with kubectl", async () => {
        const user = parseYaml(block("`exec-credential` (kubectl)", "yaml")).users[0];
        expect(user.user.exec.command).toBe("hpauth");
        // Only the command is this build; apiVersion, args and interactiveMode are the doc's.
        const exec = { ...user.user.exec, command: process.execPath, args: [BUILT_CLI, ...user.user.exec.args] };
        if ((await kubectlMinor())! < 22) {
          // The doc's note: kubectl before 1.22 knows only v1beta1 (and no interactiveMode).
          exec.apiVersion = "client.authentication.k8s.io/v1beta1";
          delete exec.interactiveMode;
        }
        const kubeconfig = join(dir, "kubeconfig-docs");
        await writeFile(
          kubeconfig,
          JSON.stringify({
            apiVersion: "v1",
            kind: "Config",
            clusters: [{ name: "fake", cluster: { server: apiUrl, "certificate-authority-data": caData } }],
            users: [{ name: user.name, user: { exec } }],
            contexts: [{ name: "c", context: { cluster: "fake", user: user.name } }],
            "current-context": "c",
          }),
        );
        const { stdout } = await run("kubectl", ["--kubeconfig", kubeconfig, "get", "--raw", "/api/docs-check"], {
          env: docEnv,
        });
        expect(JSON.parse(stdout)).toEqual({ hpauth: "ok", path: "/api/docs-check" });
      });
    });
  });
});

/** Runs a Python snippet with `input` on stdin, in time zone `tz`. */
function pyStdin(code: string, input: string, tz: string): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile("python3", ["-c", code], { env: { PATH: process.env.PATH ?? "", TZ: tz } }, (e, stdout) =>
      e ? reject(e) : resolve({ stdout }),
    );
    child.stdin?.end(input);
  });
}
