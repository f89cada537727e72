/**
 * The pure-JS SHA-256 (src/engine/sha256.ts) names store keys and token files; the CLI's cached-token probe relies
 * on it computing exactly what node:crypto computes, and on the probe finding the file FileTokenStore writes.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { credentialKey, validateProfile } from "../../src/engine/profile.js";
import { sha256Hex } from "../../src/engine/sha256.js";
import { FileTokenStore } from "../../src/stores/file.js";
import { baseName } from "../../src/stores/file-names.js";

const node = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

describe("sha256Hex", () => {
  it("matches node:crypto at every padding boundary and on arbitrary Unicode", () => {
    for (let n = 0; n <= 200; n++) expect(sha256Hex("a".repeat(n)), String(n)).toBe(node("a".repeat(n)));
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), (s) => sha256Hex(s) === node(s)),
      { numRuns: 500 },
    );
    expect(sha256Hex("\u0000\uFFFF😀é")).toBe(node("\u0000\uFFFF😀é"));
  });

  it("the credential key is the documented SHA-256 of its parts, and the store's file name is baseName's", () => {
    const profile = validateProfile({
      name: "x",
      provider: "aruba-central",
      baseUrl: "https://apigw-prod2.central.arubanetworks.com",
      clientId: "cid",
      clientSecretEnv: "S",
      username: "ü@example.com",
      passwordEnv: "P",
      customerId: "c1",
    });
    const endpoint = profile.tokenUrl ?? profile.issuer ?? profile.baseUrl;
    const parts = ["aruba-central", endpoint, "cid", "ü@example.com", "c1"].join("\u0000");
    expect(credentialKey(profile)).toBe(`aruba-central-${node(parts).slice(0, 24)}`);
    const key = credentialKey(profile);
    const store = new FileTokenStore({ dir: "/tmp/x" });
    expect(store.fileFor(key)).toBe(join("/tmp/x", `${baseName(key)}.json`));
    expect(baseName(key)).toBe(`${key.replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, 48)}.${node(key).slice(0, 32)}`);
  });
});
