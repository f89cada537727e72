import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { browserCommands, headlessReason, openSystemBrowser } from "../../src/engine/login/browser.js";
import { parseImportedTokens } from "../../src/engine/login/import.js";
import { parsePasted } from "../../src/engine/login/paste.js";

const dir = mkdtempSync(join(tmpdir(), "hpauth-browser-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

describe("system browser", () => {
  const url = "https://idp.example/authorize?client_id=a&state=s&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb";

  it("headless: SSH session, or no display on Linux", () => {
    expect(headlessReason({ DISPLAY: ":0" }, "linux")).toBeUndefined();
    expect(headlessReason({ WAYLAND_DISPLAY: "wayland-0" }, "linux")).toBeUndefined();
    expect(headlessReason({}, "linux")).toMatch(/no display/);
    expect(headlessReason({ DISPLAY: ":0", SSH_TTY: "/dev/pts/1" }, "linux")).toMatch(/SSH/);
    expect(headlessReason({}, "darwin")).toBeUndefined();
    expect(headlessReason({ SSH_CONNECTION: "x" }, "darwin")).toMatch(/SSH/);
  });

  it("BROWSER is a list of commands; %s stands for the URL; otherwise the platform's opener", () => {
    expect(browserCommands(url, { BROWSER: "firefox --new-tab:w3m" }, "linux")).toEqual([
      { command: "firefox", args: ["--new-tab", url] },
      { command: "w3m", args: [url] },
    ]);
    expect(browserCommands(url, { BROWSER: "mybrowser --url=%s --x" }, "linux")).toEqual([
      { command: "mybrowser", args: [`--url=${url}`, "--x"] },
    ]);
    expect(browserCommands(url, {}, "linux")[0]).toEqual({ command: "xdg-open", args: [url] });
    expect(browserCommands(url, {}, "darwin")).toEqual([{ command: "open", args: [url] }]);
    expect(browserCommands(url, {}, "win32")[0]!.command).toBe("rundll32");
  });

  it("runs BROWSER with the URL as one argument (no shell), trying the next on failure", async () => {
    const out = join(dir, "argv.txt");
    const bad = script("bad-browser", "exit 3");
    const good = script("good-browser", `for a in "$@"; do printf '%s\\n' "$a" >> "${out}"; done`);
    await openSystemBrowser(`${url}&x=$(touch%20pwned);`, {
      env: { BROWSER: `${bad}:${join(dir, "missing")}:${good}`, PATH: process.env.PATH },
      platform: "linux",
      settleMs: 2000,
    });
    expect(readFileSync(out, "utf8")).toBe(`${url}&x=$(touch%20pwned);\n`);
  });

  it("fails clearly when no command works, and never passes a secret to one", async () => {
    const bad = script("bad2", "exit 1");
    await expect(openSystemBrowser(url, { env: { BROWSER: bad }, platform: "linux" })).rejects.toThrow(
      /Could not open a browser/,
    );
    await expect(
      openSystemBrowser(`${url}&client_secret=s3cret`, { env: { BROWSER: bad }, platform: "linux" }),
    ).rejects.toThrow(/client_secret/);
  });
});

describe("paste parsing", () => {
  it("takes a URL, a query string, a fragment, or a bare code", () => {
    const p = (s: string) => parsePasted(s);
    const a = p("http://127.0.0.1:8400/callback?code=abc&state=xyz");
    expect(a.kind === "params" && a.params.get("code")).toBe("abc");
    const b = p("'code=abc&state=xyz'");
    expect(b.kind === "params" && b.params.get("state")).toBe("xyz");
    const c = p("http://localhost/cb#code=frag&state=s");
    expect(c.kind === "params" && c.params.get("code")).toBe("frag");
    expect(p("   ")).toEqual({ kind: "empty" });
    expect(p("Zm9vYmFy")).toEqual({ kind: "bare-code", code: "Zm9vYmFy" });
  });
});

describe("token import", () => {
  const now = Date.UTC(2025, 0, 1);
  it("reads Aruba Central's downloaded token JSON, aging expires_in by created_at (ms)", () => {
    const aruba = {
      access_token: "AT",
      appname: "nms",
      authenticated_userid: "me@example.com",
      created_at: now - 600_000,
      credential_id: "c",
      expires_in: 7200,
      id: "i",
      refresh_token: "RT",
      scope: "all",
      token_type: "bearer",
    };
    expect(parseImportedTokens(JSON.stringify(aruba), now)).toEqual({
      accessToken: "AT",
      refreshToken: "RT",
      expiresIn: 6600,
    });
  });
  it("accepts camelCase, a wrapper, a refresh token alone, and a BOM", () => {
    expect(parseImportedTokens('{"accessToken":"a","refreshToken":"r","expiresIn":"60"}', now)).toEqual({
      accessToken: "a",
      refreshToken: "r",
      expiresIn: 60,
    });
    expect(parseImportedTokens('{"token":{"refresh_token":"r"}}', now)).toEqual({ refreshToken: "r" });
    expect(parseImportedTokens('\uFEFF{"refresh_token":"r","expires_in":100}', now)).toEqual({ refreshToken: "r" });
  });
  it("errors name the problem, never a value", () => {
    for (const bad of ["not json SECRETVALUE", '{"access_token":"SECRETVALUE"}', "[1]", '{"refresh_token":5}']) {
      let msg = "";
      try {
        parseImportedTokens(bad, now);
      } catch (e) {
        msg = `${(e as Error).message} ${(e as { hint?: string }).hint ?? ""}`;
        expect((e as { code: string }).code).toBe("USAGE");
      }
      expect(msg).not.toBe("");
      expect(msg).not.toContain("SECRETVALUE");
    }
  });
});
