/** `hpauth proxy` argv: a repeated -p is kept whole (both parsers), the command's own flags reach its options. */
import { describe, expect, it } from "vitest";
import { parseArgv } from "../../src/cli/main.js";

describe("hpauth proxy argv", () => {
  it("-p a -p b → profiles [a, b] (profile is the last, as before for every command)", () => {
    const p = parseArgv(["proxy", "-p", "a", "-p", "b", "--port", "8700", "--json"]);
    expect(p.command).toBe("proxy");
    expect(p.options).toMatchObject({ profiles: ["a", "b"], profile: "b", port: 8700, json: true });
    expect(parseArgv(["-p", "a", "token", "-p", "b"]).options).toMatchObject({ profile: "b", profiles: ["a", "b"] });
    expect(parseArgv(["proxy", "-p", "only"]).options.profiles).toBeUndefined();
  });

  it("--allow is repeatable; --allow-remote, --allow-file, --host, --drain-timeout", () => {
    const p = parseArgv([
      "proxy",
      "--allow",
      "GET /a/**",
      "--allow",
      "gl: POST /b",
      "--allow-file",
      "r.rules",
      "--host",
      "0.0.0.0",
      "--allow-remote",
      "--drain-timeout",
      "5",
    ]);
    expect(p.options).toMatchObject({
      allow: ["GET /a/**", "gl: POST /b"],
      allowFile: "r.rules",
      host: "0.0.0.0",
      allowRemote: true,
      drainTimeoutSeconds: 5,
    });
  });

  it("a bad --port is a usage error", () => {
    expect(() => parseArgv(["proxy", "--port", "70000"])).toThrow(/--port/);
  });
});
