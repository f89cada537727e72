/**
 * Which browser launcher runs, with which argv, and what the user is told when none works: real launcher scripts
 * (sh), spawned without a shell, their exit status and start failures reported by name.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import {
  assertNoSecretInUrl,
  browserCommands,
  headlessReason,
  openSystemBrowser,
} from "../../src/engine/login/browser.js";

const dir = mkdtempSync(join(tmpdir(), "hpauth-browser-cmds-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const URL_ = "https://idp.example/authorize?client_id=a&state=s";

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

describe("headlessReason", () => {
  it("every Unix-like platform without a display is headless; macOS and Windows never for lack of DISPLAY", () => {
    for (const p of ["linux", "freebsd", "openbsd", "netbsd"] as const) {
      expect(headlessReason({}, p), p).toBe("there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set)");
      expect(headlessReason({ DISPLAY: ":0" }, p), p).toBeUndefined();
      expect(headlessReason({ WAYLAND_DISPLAY: "wayland-0" }, p), p).toBeUndefined();
    }
    expect(headlessReason({}, "darwin")).toBeUndefined();
    expect(headlessReason({}, "win32")).toBeUndefined();
    for (const k of ["SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT"]) {
      expect(headlessReason({ [k]: "x", DISPLAY: ":0" }, "linux"), k).toBe("this is an SSH session");
    }
  });
});

describe("browserCommands", () => {
  it("the platform's launcher: open, the Windows URL handler (never cmd), xdg-open then sensible-browser", () => {
    expect(browserCommands(URL_, {}, "darwin")).toEqual([{ command: "open", args: [URL_] }]);
    expect(browserCommands(URL_, {}, "win32")).toEqual([
      { command: "rundll32", args: ["url.dll,FileProtocolHandler", URL_] },
    ]);
    expect(browserCommands(URL_, {}, "linux")).toEqual([
      { command: "xdg-open", args: [URL_] },
      { command: "sensible-browser", args: [URL_] },
    ]);
  });

  it("BROWSER: a list split on ':' (';' on Windows), words split on any whitespace, %s replaced or the URL appended", () => {
    expect(browserCommands(URL_, { BROWSER: "  firefox  --new-tab : : chromium   --app=%s  " }, "linux")).toEqual([
      { command: "firefox", args: ["--new-tab", URL_] },
      { command: "chromium", args: [`--app=${URL_}`] },
    ]);
    expect(browserCommands(URL_, { BROWSER: "a b;c" }, "win32")).toEqual([
      { command: "a", args: ["b", URL_] },
      { command: "c", args: [URL_] },
    ]);
    // On Unix a ';' is part of the command, not a separator.
    expect(browserCommands(URL_, { BROWSER: "a;c" }, "linux")).toEqual([{ command: "a;c", args: [URL_] }]);
    // Blank BROWSER is no BROWSER.
    expect(browserCommands(URL_, { BROWSER: "   " }, "darwin")).toEqual([{ command: "open", args: [URL_] }]);
  });
});

describe("assertNoSecretInUrl", () => {
  it.each(["client_secret", "password", "code_verifier", "refresh_token", "access_token"])("refuses %s", (p) => {
    const e = (() => {
      try {
        assertNoSecretInUrl(`${URL_}&${p}=x`);
      } catch (x) {
        return x as HpauthError;
      }
      throw new Error("not refused");
    })();
    expect(e).toBeInstanceOf(HpauthError);
    expect(e.code).toBe("INTERNAL");
    expect(e.message).toBe(`Refusing to hand the browser an authorization URL that carries ${p}`);
  });
});

describe("openSystemBrowser", () => {
  it("tries each launcher in turn and says how each failed: a start failure by its code, an exit by its status", async () => {
    const log = join(dir, "argv.log");
    const failing = script("fails", `echo "$@" >> ${log}; exit 3`);
    const missing = join(dir, "no-such-launcher");
    const e = (await openSystemBrowser(URL_, {
      env: { BROWSER: `${missing}:${failing} --flag` },
      platform: "linux",
      settleMs: 5000,
    }).catch((x: unknown) => x)) as HpauthError;
    expect(e).toBeInstanceOf(HpauthError);
    expect(e.code).toBe("INTERNAL");
    expect(e.message).toBe(`Could not open a browser (${missing}: ENOENT; ${failing}: exited with 3)`);
    expect(readFileSync(log, "utf8")).toBe(`--flag ${URL_}\n`);
  });

  it("a launcher killed by a signal is named by it; with nothing to try, the message says so", async () => {
    const killed = script("killed", "kill -TERM $$");
    const e = (await openSystemBrowser(URL_, { env: { BROWSER: killed }, platform: "linux" }).catch(
      (x: unknown) => x,
    )) as HpauthError;
    expect(e.message).toBe(`Could not open a browser (${killed}: exited with SIGTERM)`);
    const none = (await openSystemBrowser(URL_, { env: { BROWSER: " : " }, platform: "linux" }).catch(
      (x: unknown) => x,
    )) as HpauthError;
    // " : " is not blank, but holds no command.
    expect(none.message).toBe("Could not open a browser (no command to try)");
  });

  it("a launcher that exits 0 is a success at once; one still running after settleMs is taken as a success", async () => {
    const ok = script("ok", "exit 0");
    // settleMs far beyond the test's timeout: only the exit status can end this call in time.
    await openSystemBrowser(URL_, { env: { BROWSER: ok }, platform: "linux", settleMs: 600_000 });
    const marker = join(dir, "env.log");
    const slow = script("slow", `echo "$HPAUTH_TEST_VAR" > ${marker}; sleep 5`);
    await openSystemBrowser(URL_, {
      env: { BROWSER: slow, HPAUTH_TEST_VAR: "passed-through", PATH: process.env.PATH },
      platform: "linux",
      settleMs: 300,
    });
    // The launcher ran with the given environment.
    for (let i = 0; i < 50 && readFileSync(marker, { encoding: "utf8", flag: "a+" }) === ""; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(readFileSync(marker, "utf8").trim()).toBe("passed-through");
  });

  it("refuses a URL with a secret before anything is spawned", async () => {
    const log = join(dir, "never.log");
    const launcher = script("never", `touch ${log}`);
    await expect(
      openSystemBrowser(`${URL_}&client_secret=x`, { env: { BROWSER: launcher }, platform: "linux" }),
    ).rejects.toThrow(/carries client_secret/);
    expect(() => readFileSync(log)).toThrow();
  });
});
