/**
 * greenlake-platform and new-central as users run them: the built CLI (a private copy, see privateCli) started as
 * a process against the emulator. The ready line's keys as flags (workspaceId → --workspace-id), `token`, an MSP
 * exchange, `status`, `inspect`, `request --paginate` in both paging styles, `profiles add`, the proxy, and a
 * refused workspace — secrets only ever through the environment, never in argv or output.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { kebabCase } from "../../src/config/fields.js";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { privateCli } from "./private-cli.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const MSP = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const TENANT = "11111111222233334444555555555555";

let bin = join(root, "bin/hpauth.js");
let dir: string;
let emu: Emulator;
const children: ChildProcess[] = [];

interface Result {
  code: number | null;
  out: string;
  err: string;
}

function run(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: join(dir, "home"), XDG_CONFIG_HOME: join(dir, "xdg"), ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (c) => {
    out += c;
  });
  child.stderr!.on("data", (c) => {
    err += c;
  });
  child.stdin!.end();
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

/**
 * The emulator's ready-line entry as flags, every key mapped the way the CLI spells it (`workspaceId` →
 * `--workspace-id`); the secret by environment variable name, never its value in argv.
 */
function glp(store: string, extra: string[] = []): { flags: string[]; env: Record<string, string> } {
  const { clientSecret, ...rest } = emu.providers["greenlake-platform"];
  const flags = ["--provider", "greenlake-platform", "--store-dir", join(dir, store)];
  for (const [k, v] of Object.entries(rest)) if (typeof v === "string") flags.push(`--${kebabCase(k)}`, v);
  return { flags: [...flags, "--client-secret-env", "GLP_SECRET", ...extra], env: { GLP_SECRET: clientSecret! } };
}

const counters = async () => (await emu.admin.counters())["greenlake-platform"];
const secret = () => emu.providers["greenlake-platform"].clientSecret!;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hpauth-glp-"));
  bin = await privateCli(dir);
  emu = await startEmulator({
    credentials: { "greenlake-platform": { workspaceId: MSP, tenantWorkspaceIds: [TENANT] } },
  });
}, 60_000);
afterAll(async () => {
  for (const c of children) c.kill("SIGTERM");
  await emu?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await emu.admin.reset();
});

describe("hpauth token / status / inspect", () => {
  it("the ready line as flags: a token, then the cached one; --json says 900 s and the provider", async () => {
    const p = glp("t1");
    const r = await run(["token", ...p.flags], p.env);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const j = await run(["token", "--json", ...p.flags], p.env);
    const t = JSON.parse(j.out);
    expect(t).toMatchObject({ provider: "greenlake-platform", token_type: "Bearer" });
    expect(t.expires_in).toBeGreaterThan(880);
    expect(t.expires_in).toBeLessThanOrEqual(900);
    expect((await counters()).tokensIssued).toBe(1);
    expect(r.err + j.err).not.toContain(secret());
  });

  it("--client-auth client_secret_basic works the same", async () => {
    const p = glp("t2", ["--client-auth", "client_secret_basic"]);
    const r = await run(["token", ...p.flags], p.env);
    expect(r.code, r.err).toBe(0);
    expect((await counters()).tokensIssued).toBe(1);
  });

  it("an MSP exchange: the tenant's token, two records in the store; status and inspect say what is what", async () => {
    const p = glp("t3", ["--tenant-workspace-id", TENANT]);
    const r = await run(["token", ...p.flags], p.env);
    expect(r.code, r.err).toBe(0);
    expect((await readdir(join(dir, "t3"))).filter((f) => f.endsWith(".json"))).toHaveLength(2);
    const s = await run(["status", "--json", ...p.flags], p.env);
    expect(s.code, s.err).toBe(0);
    const row = JSON.parse(s.out).profiles[0];
    expect(row).toMatchObject({
      provider: "greenlake-platform",
      state: "valid",
      workspace_id: TENANT,
      msp_token: { workspace_id: MSP, state: "valid" },
    });
    const text = await run(["status", ...p.flags], p.env);
    expect(text.out).toContain(`tenant workspace ${TENANT} by exchange of the MSP workspace ${MSP}`);
    const i = await run(["inspect", "--json", ...p.flags], p.env);
    expect(i.code, i.err).toBe(0);
    expect(JSON.parse(i.out)).toMatchObject({ workspace_id: TENANT, actor: { hpe_workspace_id: MSP } });
    const it = await run(["inspect", ...p.flags], p.env);
    expect(it.out).toContain(`Workspace: ${TENANT}`);
    expect(it.out).toContain(`of workspace ${MSP} (RFC 8693 act)`);
    for (const x of [r, s, text, i, it]) expect(x.out.includes(secret()) || x.err.includes(secret())).toBe(false);
  });

  it("a workspace the API client is not in: exit 3, the hint names the workspace", async () => {
    const p = glp("t4", ["--workspace-id", TENANT]);
    const r = await run(["token", ...p.flags], p.env);
    expect(r.code).toBe(3);
    expect(r.out).toBe("");
    expect(r.err).toContain(`created in workspace ${TENANT}`);
    expect(r.err).not.toContain(secret());
  });
});

describe("hpauth request --paginate", () => {
  it("GLP's offset/limit: every page of /devices/v1/devices, one JSON document per line", async () => {
    const p = glp("r1");
    const r = await run(["request", ...p.flags, "/devices/v1/devices?limit=3", "--paginate"], p.env);
    expect(r.code, r.err).toBe(0);
    const pages = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(pages.map((x) => [x.offset, x.count])).toEqual([
      [0, 3],
      [3, 3],
      [6, 1],
    ]);
  });

  it("new Central's limit/next cursor, for a tenant by exchange (the new-central preset)", async () => {
    const p = glp("r2", ["--tenant-workspace-id", TENANT]);
    const flags = p.flags.map((f) => (f === "greenlake-platform" ? "new-central" : f));
    const r = await run(["request", ...flags, "/network-monitoring/v1/aps?limit=1", "--paginate"], p.env);
    expect(r.code, r.err).toBe(0);
    const pages = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(pages.map((x) => x.next)).toEqual([2, null]);
    expect(pages.flatMap((x) => x.items)).toHaveLength(2);
  });

  it("a reader that stops early (`| head -1`): the pages stop quietly, exit 0, no stack trace", async () => {
    const p = glp("r3");
    // As `head` does: read the first page, then close the pipe while the CLI still has pages to write.
    const cli = spawn(process.execPath, [bin, "request", ...p.flags, "/devices/v1/devices?limit=1", "--paginate"], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: join(dir, "home"), XDG_CONFIG_HOME: join(dir, "xdg"), ...p.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    cli.stderr!.on("data", (c) => {
      err += c;
    });
    cli.stdout!.once("data", () => cli.stdout!.destroy());
    const code = await new Promise<number | null>((resolve) => cli.on("close", resolve));
    expect(err).not.toMatch(/EPIPE|Unhandled|at /);
    expect(code, err).toBe(0);
  });
});

describe("hpauth profiles add and the proxy", () => {
  it("profiles add writes workspace_id; the profile then serves the proxy, which adds the GLP token", async () => {
    const config = join(dir, "config.toml");
    const p = glp("p1");
    const storeAt = p.flags.indexOf("--store-dir");
    const fields = p.flags.filter((_, i) => i !== storeAt && i !== storeAt + 1);
    const add = await run(["profiles", "add", "glp", "--config", config, "--non-interactive", ...fields], p.env);
    expect(add.code, add.err).toBe(0);
    const text = await readFile(config, "utf8");
    expect(text).toContain(`workspace_id = "${MSP}"`);
    expect(text).not.toContain(secret());

    const child = spawn(
      process.execPath,
      [bin, "proxy", "--json", "-p", "glp", "--config", config, "--store-dir", join(dir, "p1")],
      { cwd: root, env: { PATH: process.env.PATH ?? "", HOME: join(dir, "home"), ...p.env } },
    );
    children.push(child);
    const ready = await new Promise<{ proxies: Record<string, { url: string; upstream: string }> }>(
      (resolve, reject) => {
        let out = "";
        child.stdout.on("data", (c) => {
          out += c;
          const nl = out.indexOf("\n");
          if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
        });
        child.on("close", (code) => reject(new Error(`proxy exited ${code}`)));
      },
    );
    expect(ready.proxies.glp!.upstream).toBe(emu.providers["greenlake-platform"].baseUrl);
    const res = await fetch(`${ready.proxies.glp!.url}/devices/v1/devices?limit=2`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ count: 2, total: 7 });
    child.kill("SIGTERM");
  });
});
