import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, arubaFlags, type ProcessResult, runCliAt } from "./helpers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = join(root, "bin/hpauth.js");

function hpauth(args: string[], env: Record<string, string> = {}): Promise<ProcessResult> {
  return runCliAt(bin, args, env, "", root);
}

type Creds = Record<string, string> & { baseUrl: string };

describe("engine errors in the built CLI", () => {
  let emu: { providers: Record<string, Creds>; adminUrl: string; close(): Promise<void> };
  let dir: string;
  beforeAll(async () => {
    const { startEmulator } = await import("../../src/emulator/index.js");
    emu = (await startEmulator()) as never;
    dir = await mkdtemp(join(tmpdir(), "hpauth-errbin-"));
  });
  afterAll(async () => {
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const secrets = () =>
    Object.values(emu.providers).flatMap((p) => [p.clientSecret, p.password].filter((s): s is string => !!s));

  it("connection refused: exit 5, the origin and base_url named, no `fetch failed`", async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const args = ["token", "--provider", "greenlake", "--base-url", `http://127.0.0.1:${port}`, "--client-id", "id"];
    const r = await hpauth([...args, "--client-secret-env", "S", "--store", "memory"], { S: "a-secret-value" });
    expect(r.code).toBe(5);
    expect(r.out).toBe("");
    expect(r.err).toContain(`connection refused by http://127.0.0.1:${port} — check base_url`);
    expect(r.err).toMatch(/^Check the profile's base_url \(http:\/\/127\.0\.0\.1:\d+\): host and port/m);
    expect(r.err).not.toContain("fetch failed");
    const j = await hpauth([...args, "--client-secret-env", "S", "--store", "memory", "--json"], { S: "x-secret" });
    expect(JSON.parse(j.out).error).toMatchObject({ code: "NETWORK_ERROR", category: "network" });
  });

  it("an HTML error page: named by its title, never printed", async () => {
    const p = emu.providers.greenlake!;
    await admin(emu.adminUrl, "/faults", { provider: "greenlake", endpoint: "token", type: "html", count: 3 });
    const r = await hpauth(
      [
        "token",
        "--provider",
        "greenlake",
        "--base-url",
        p.baseUrl,
        "--client-id",
        p.clientId!,
        "--client-secret-env",
        "S",
        "--store",
        "memory",
      ],
      { S: p.clientSecret! },
    );
    expect(r.code).toBe(5);
    expect(r.err).toContain('an HTML page titled "502 Bad Gateway"');
    expect(r.err).not.toMatch(/<[a-z!/]/i);
    expect(r.err.match(/GreenLake token request/g)).toHaveLength(1);
  });

  it("a refresh whose answer is lost: ANSWER_LOST, exit 5, sent once; status warns; the next run refreshes", async () => {
    await admin(emu.adminUrl, "/reset", {});
    const p = emu.providers["aruba-central"]!;
    const { flags, env } = arubaFlags(p);
    const store = join(dir, "aruba");
    const login = await hpauth(["token", ...flags, "--store-dir", store], env);
    expect(login.code, login.err).toBe(0);
    await admin(emu.adminUrl, "/counters/reset", {});
    await admin(emu.adminUrl, "/faults", { provider: "aruba-central", endpoint: "token", type: "drop" });
    const lost = await hpauth(["token", "--force-refresh", "--json", ...flags, "--store-dir", store], env);
    expect(lost.code).toBe(5);
    const e = JSON.parse(lost.out).error;
    expect(e).toMatchObject({ code: "ANSWER_LOST", category: "network" });
    expect(e.message).toMatch(
      /^Aruba token refresh: the connection to http:\/\/127\.0\.0\.1:\d+ was lost after the request was sent/,
    );
    expect(e.hint).toMatch(/tried once more/);
    let c = ((await admin(emu.adminUrl, "/counters")) as Record<string, { tokenRequests: number; refreshes: number }>)[
      "aruba-central"
    ]!;
    expect(c.tokenRequests).toBe(1);
    const status = await hpauth(["status", "--json", ...flags, "--store-dir", store], env);
    expect(status.out).toMatch(/got no answer/);
    const again = await hpauth(["token", "--force-refresh", ...flags, "--store-dir", store], env);
    expect(again.code, again.err).toBe(0);
    c = ((await admin(emu.adminUrl, "/counters")) as Record<string, { tokenRequests: number; refreshes: number }>)[
      "aruba-central"
    ]!;
    expect(c).toMatchObject({ tokenRequests: 2, refreshes: 1 });
    for (const s of secrets()) expect(lost.out + lost.err + status.out + again.err).not.toContain(s);
  });
});
