/** Which curl arguments are URLs, and the refusal of every URL that is not the profile's API origin. */
import { describe, expect, it } from "vitest";
import { checkCurlArgs } from "../../src/cli/commands/curl.js";
import { createTokenManager } from "../../src/engine/manager.js";

const m = createTokenManager({
  profile: {
    name: "gl",
    provider: "greenlake",
    baseUrl: "https://sso.example.com",
    apiBaseUrl: "https://api.example.com/base",
    clientId: "id",
    clientSecret: "s",
  },
});

describe("checkCurlArgs", () => {
  it("completes /paths with the API base and keeps option values as they are", () => {
    expect(checkCurlArgs(["-sS", "-o", "/tmp/out.json", "/api/v1/x"], m)).toEqual([
      "-sS",
      "-o",
      "/tmp/out.json",
      "https://api.example.com/base/api/v1/x",
    ]);
    expect(checkCurlArgs(["-XPOST", "-sSo", "out", "https://api.example.com/y"], m)).toEqual([
      "-XPOST",
      "-sSo",
      "out",
      "https://api.example.com/y",
    ]);
    expect(checkCurlArgs(["--url", "/z"], m)).toEqual(["--url", "https://api.example.com/base/z"]);
    expect(checkCurlArgs(["--url=https://sso.example.com/ok"], m)).toEqual(["--url=https://sso.example.com/ok"]);
  });

  it("refuses another origin wherever it stands: positional, bare host, --url, an option value with a scheme", () => {
    for (const args of [
      ["https://evil.example/x"],
      ["-s", "evil.example"],
      ["https://api.example.com/a", "http://api.example.com/b"], // scheme change: another origin
      ["--url", "https://evil.example/"],
      ["--url=https://evil.example/"],
      ["-e", "https://evil.example/", "/ok"],
      ["-L", "https://api.example.com:8443/"],
    ]) {
      expect(() => checkCurlArgs(args, m), args.join(" ")).toThrow(/Refusing to send the gl token|not a URL/);
    }
  });

  it("refuses --location-trusted, and an argument list without any URL", () => {
    expect(() => checkCurlArgs(["--location-trusted", "/x"], m)).toThrow(/location-trusted/);
    expect(() => checkCurlArgs(["-sS", "-o", "file"], m)).toThrow(/needs the API URL/);
    expect(() => checkCurlArgs(["-H", "Authorization: Basic eA==", "/x"], m)).toThrow(
      /sends the profile's Authorization/,
    );
    expect(() => checkCurlArgs(["--header", "cookie: a=b", "/x"], m)).toThrow(/Authorization header itself/);
    expect(checkCurlArgs(["-H", "Accept: application/json", "/x"], m)).toHaveLength(3);
  });
});
