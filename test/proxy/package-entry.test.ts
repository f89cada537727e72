/** docs/proxy.md's library example through the package entry points (`hpauth`, `hpauth/proxy`, `hpauth/emulator`). */
import { describe, expect, it } from "vitest";

describe("hpauth/proxy entry point", () => {
  it("startProxy with a manager from `hpauth`: a call through it, then close()", async () => {
    const { createTokenManager } = await import("hpauth");
    const { parseAllowRule, startProxy } = await import("hpauth/proxy");
    const { startEmulator } = await import("hpauth/emulator");
    const emu = await startEmulator();
    try {
      const gl = emu.providers.greenlake;
      const manager = createTokenManager({
        profile: {
          name: "gl",
          provider: "greenlake",
          baseUrl: gl.baseUrl,
          clientId: gl.clientId!,
          clientSecretEnv: "GL_SECRET",
        },
        runtime: { env: { GL_SECRET: gl.clientSecret! } },
      });
      const proxy = await startProxy({ targets: [{ name: "gl", manager }], allow: [parseAllowRule("GET /api/v1/**")] });
      try {
        const res = await fetch(`${proxy.proxies.gl!.url}/api/v1/storage-systems?limit=1`);
        expect(res.status).toBe(200);
        expect(((await res.json()) as { items: unknown[] }).items).toHaveLength(1);
        const refused = await fetch(`${proxy.proxies.gl!.url}/api/v1/echo`, { method: "POST", body: "x" });
        expect(refused.status).toBe(403);
        expect(((await refused.json()) as { error: string }).error).toBe("not_allowed"); // not cross_origin: Node's fetch is no browser
      } finally {
        await proxy.close();
      }
    } finally {
      await emu.close();
    }
  });
});
