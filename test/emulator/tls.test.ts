/**
 * The TLS emulator's certificates: OpenSSL (an independent parser) reads and verifies them; the names, key usage
 * and validity are what a client checks; the servers speak HTTPS with them; the Date header follows the clock.
 */
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Agent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator } from "../../src/emulator/index.js";
import { makeTlsMaterial } from "../../src/emulator/tls.js";

const run = promisify(execFile);

describe("TLS emulator", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hpauth-tls-"));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("openssl verifies the server certificate against the CA, for the purpose sslserver", async () => {
    const m = makeTlsMaterial({ hosts: ["localhost", "127.0.0.1", "::1", "emu.test"] });
    await writeFile(join(dir, "ca.pem"), m.caPem);
    await writeFile(join(dir, "leaf.pem"), m.certPem);
    const v = await run("openssl", [
      "verify",
      "-purpose",
      "sslserver",
      "-CAfile",
      join(dir, "ca.pem"),
      join(dir, "leaf.pem"),
    ]);
    expect(v.stdout).toContain(": OK");
    const text = (await run("openssl", ["x509", "-in", join(dir, "leaf.pem"), "-noout", "-text"])).stdout;
    expect(text).toContain("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:emu.test");
    const leaf = new X509Certificate(m.certPem);
    const ca = new X509Certificate(m.caPem);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkHost("emu.test")).toBe("emu.test");
    expect(leaf.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(leaf.checkHost("other.test")).toBeUndefined();
  });

  it("a validity in the past makes an expired certificate (GeneralizedTime past 2049 too)", () => {
    const past = makeTlsMaterial({
      hosts: ["localhost"],
      notBefore: new Date("2020-01-01T00:00:00Z"),
      notAfter: new Date("2020-01-02T00:00:00Z"),
    });
    expect(new X509Certificate(past.certPem).validTo).toBe("Jan  2 00:00:00 2020 GMT");
    const far = makeTlsMaterial({ hosts: ["localhost"], notAfter: new Date("2051-06-01T00:00:00Z") });
    expect(new X509Certificate(far.certPem).validTo).toBe("Jun  1 00:00:00 2051 GMT");
  });

  it("startEmulator({ tls }): https origins, the CA in caFile (removed by close), admin stays http", async () => {
    const emu = await startEmulator({ tls: true });
    const caFile = emu.caFile ?? "";
    try {
      expect(emu.adminUrl).toMatch(/^http:\/\//);
      expect(existsSync(caFile)).toBe(true);
      const agent = new Agent({ connect: { ca: emu.caPem ?? "" } });
      for (const p of Object.values(emu.providers)) {
        expect(p.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
        const res = await fetch(`${p.baseUrl}/`, { dispatcher: agent } as unknown as RequestInit);
        expect(res.status).toBe(404);
        await res.body?.cancel();
      }
      // The Date header is the emulator's clock.
      await emu.admin.advanceClock(7200);
      const res = await fetch(`${emu.providers.wxp.baseUrl}/`, { dispatcher: agent } as unknown as RequestInit);
      const skew = Date.parse(res.headers.get("date") ?? "") - Date.now();
      expect(Math.abs(skew - 7_200_000)).toBeLessThan(3000);
      await agent.close();
    } finally {
      await emu.close();
    }
    expect(existsSync(caFile)).toBe(false);
  });
});
