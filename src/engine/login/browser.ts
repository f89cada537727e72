/**
 * Opening the system browser, and knowing when there is none. `BROWSER` is honoured the way Python's webbrowser
 * module and xdg-utils read it (a path-separator list of commands, `%s` standing for the URL); otherwise xdg-open,
 * open, or the Windows URL handler. No shell is involved: the URL is one argv element and cannot inject anything.
 * The URL is not a secret (state is single use and PKCE's verifier stays here), but it must never carry a client
 * secret or password: assertNoSecretInUrl checks that before anything is spawned.
 */
import { spawn } from "node:child_process";
import { HpauthError } from "../errors.js";

type Env = Readonly<Record<string, string | undefined>>;

export interface BrowserCommand {
  command: string;
  args: string[];
}

/** Why a browser cannot be opened here, or undefined when one probably can. */
export function headlessReason(env: Env, platform: NodeJS.Platform): string | undefined {
  if (env.SSH_CONNECTION || env.SSH_TTY || env.SSH_CLIENT) return "this is an SSH session";
  if (platform === "linux" || platform === "freebsd" || platform === "openbsd" || platform === "netbsd") {
    if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return "there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set)";
  }
  return undefined;
}

/** The commands to try, in order. */
export function browserCommands(url: string, env: Env, platform: NodeJS.Platform): BrowserCommand[] {
  const fromEnv = env.BROWSER?.trim();
  if (fromEnv) {
    const sep = platform === "win32" ? ";" : ":";
    return fromEnv
      .split(sep)
      .map((entry) => entry.trim())
      .filter((entry) => entry.length > 0)
      .map((entry) => {
        // Split on whitespace only: no quoting rules, because no shell runs this.
        const words = entry.split(/\s+/);
        const hasPlaceholder = words.some((w) => w.includes("%s"));
        const args = words.slice(1).map((w) => w.replaceAll("%s", url));
        return { command: words[0]!, args: hasPlaceholder ? args : [...args, url] };
      });
  }
  switch (platform) {
    case "darwin":
      return [{ command: "open", args: [url] }];
    case "win32":
      // Not `cmd /c start`: cmd would parse the `&` between query parameters as a command separator.
      return [{ command: "rundll32", args: ["url.dll,FileProtocolHandler", url] }];
    default:
      return [
        { command: "xdg-open", args: [url] },
        { command: "sensible-browser", args: [url] },
      ];
  }
}

const SECRET_PARAMS = ["client_secret", "password", "code_verifier", "refresh_token", "access_token"];

export function assertNoSecretInUrl(url: string): void {
  const u = new URL(url);
  for (const p of SECRET_PARAMS) {
    if (u.searchParams.has(p)) {
      throw new HpauthError("INTERNAL", `Refusing to hand the browser an authorization URL that carries ${p}`);
    }
  }
}

export interface OpenBrowserOptions {
  env: Env;
  platform?: NodeJS.Platform;
  /** How long to watch a launcher for a failing exit status before assuming it worked. */
  settleMs?: number;
}

/**
 * Tries each command until one starts and does not fail within `settleMs`. A launcher still running after that is
 * taken as a success (some, like xdg-open starting a first browser window, only return when the browser exits).
 */
export async function openSystemBrowser(url: string, options: OpenBrowserOptions): Promise<void> {
  assertNoSecretInUrl(url);
  const platform = options.platform ?? process.platform;
  const settleMs = options.settleMs ?? 1500;
  const failures: string[] = [];
  for (const { command, args } of browserCommands(url, options.env, platform)) {
    const outcome = await new Promise<string | undefined>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const child = spawn(command, args, {
        stdio: "ignore",
        detached: platform !== "win32",
        env: { ...options.env } as NodeJS.ProcessEnv,
      });
      child.once("error", (e: NodeJS.ErrnoException) => {
        if (timer) clearTimeout(timer);
        resolve(`${command}: ${e.code ?? e.message}`);
      });
      child.once("spawn", () => {
        timer = setTimeout(() => {
          child.unref();
          resolve(undefined);
        }, settleMs);
        timer.unref();
      });
      child.once("exit", (code, signal) => {
        if (timer) clearTimeout(timer);
        resolve(code === 0 ? undefined : `${command}: exited with ${code ?? signal}`);
      });
    });
    if (outcome === undefined) return;
    failures.push(outcome);
  }
  throw new HpauthError("INTERNAL", `Could not open a browser (${failures.join("; ") || "no command to try"})`);
}
