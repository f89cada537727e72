/**
 * The README's library example, through the package's own entry points (`hpauth`, `hpauth/emulator`, resolved by
 * package.json "exports" to dist/): what a user importing the package gets, not our source tree.
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let dir: string;

// dist/ is built by test/global-setup.ts (or by `npm run test:full` just before).
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hpauth-lib-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("library (README example)", () => {
  it("createTokenManager + FileTokenStore against the emulator: token, authenticated fetch, 0600 file", async () => {
    const { createTokenManager, FileTokenStore, HpauthError } = await import("hpauth");
    const { startEmulator } = await import("hpauth/emulator");
    const emu = await startEmulator();
    try {
      const a = emu.providers["aruba-central"];
      const aruba = createTokenManager({
        profile: {
          name: "aruba",
          provider: "aruba-central",
          baseUrl: a.baseUrl,
          customerId: a.customerId!,
          clientId: a.clientId!,
          clientSecretEnv: "ARUBA_SECRET",
          username: a.username!,
          passwordEnv: "ARUBA_PASSWORD",
        },
        store: new FileTokenStore({ dir: join(dir, "tokens") }),
        runtime: { env: { ARUBA_SECRET: a.clientSecret!, ARUBA_PASSWORD: a.password! } },
      });
      const { accessToken, expiresAt, source } = await aruba.getToken();
      expect(source).toBe("login");
      expect(accessToken.length).toBeGreaterThan(10);
      expect(expiresAt.getTime()).toBeGreaterThan(Date.now());
      const res = await aruba.fetch("/monitoring/v2/aps");
      expect(res.status).toBe(200);
      expect(((await res.json()) as { aps: unknown[] }).aps.length).toBeGreaterThan(0);
      expect((await aruba.getToken()).source).toBe("cache");

      const files = (await readdir(join(dir, "tokens"))).filter((f) => f.endsWith(".json"));
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) expect((await stat(join(dir, "tokens", f))).mode & 0o777).toBe(0o600);
      expect((await stat(join(dir, "tokens"))).mode & 0o777).toBe(0o700);

      // Errors are typed, with stable codes, and name the field.
      const err = (() => {
        try {
          createTokenManager({ profile: { name: "x", provider: "aruba-central", baseUrl: "not a url" } });
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(HpauthError);
      expect((err as InstanceType<typeof HpauthError>).code).toBe("CONFIG_INVALID");
      // Named by its config-file key, the spelling shared by the file, the flags and HPAUTH_* (issue 7.15).
      expect((err as Error).message).toMatch(/base_url:/);
    } finally {
      await emu.close();
    }
  });
});
