/**
 * Redaction in what the built CLI prints: values are masked, the message around them is kept whole (issue 7.11).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, closedPort, hpauth } from "./helpers.js";

describe("redaction keeps messages whole (built CLI)", () => {
  let dir: string;
  beforeAll(async () => {
    await buildCli();
    dir = await mkdtemp(join(tmpdir(), "hpauth-ux-redact-"));
  }, 200_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("--verbose shows the error code of a refused connection, and its closing parenthesis", async () => {
    const port = await closedPort();
    const r = await hpauth(
      [
        "token",
        "--verbose",
        "--store",
        "memory",
        "--provider",
        "greenlake",
        "--base-url",
        `http://127.0.0.1:${port}`,
        "--client-id",
        "gl-client",
        "--client-secret-env",
        "GL_SECRET",
      ],
      { GL_SECRET: "gl-secret-value-123" },
    );
    expect(r.code).toBe(5);
    const retries = r.err.split("\n").filter((l) => l.startsWith("[hpauth] retry"));
    expect(retries.length).toBeGreaterThan(0);
    for (const line of retries) {
      // The error code is no secret, and the parenthesis that closes the event's fields is structure.
      expect(line).toMatch(/ code=[A-Z][A-Z_]+\)$/);
    }
    expect(r.err).not.toContain("gl-secret-value-123");
  }, 30_000);

  it("the import hint shows its example as written, not as [redacted]", async () => {
    const file = join(dir, "not-json.txt");
    await writeFile(file, "this is not JSON");
    const r = await hpauth([
      "login",
      "--import",
      file,
      "--store",
      "memory",
      "--provider",
      "aruba-central",
      "--base-url",
      "http://127.0.0.1:9",
      "--client-id",
      "c",
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('{"access_token": "…", "refresh_token": "…"}');
    expect(r.err).not.toContain("[redacted]");
  }, 30_000);
});
