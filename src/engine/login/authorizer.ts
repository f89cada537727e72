/**
 * The InteractiveAuthorizer for browser logins (RFC 8252 native-app flow, RFC 9700 advice): a fresh single-use
 * state per attempt, PKCE S256 when the provider takes it, a loopback listener on 127.0.0.1/[::1], the system
 * browser, and paste-back for machines without one (SSH, containers, `--no-browser`). It knows nothing of argv;
 * the engine calls it (inside the store lock, so concurrent processes share one login) and exchanges the code.
 */
import type { Readable, Writable } from "node:stream";
import { formatMs } from "../duration.js";
import { HpauthError, isHpauthError } from "../errors.js";
import { defaultRuntime, type Runtime } from "../runtime.js";
import type { AuthorizationRequest, AuthorizationResult, InteractiveAuthorizer } from "../types.js";
import { assertNoSecretInUrl, headlessReason, openSystemBrowser } from "./browser.js";
import { judgeCallback } from "./callback.js";
import { type CallbackListener, type LoopbackHost, startCallbackListener } from "./listener.js";
import { parsePasted, readPastedLines } from "./paste.js";
import { createProgress, formatElapsed } from "./progress.js";
import { newPkcePair, newState, SingleUseState } from "./state.js";

type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_LOGIN_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_CALLBACK_PATH = "/callback";

export interface LoopbackAuthorizerOptions {
  /** Opens the URL in a browser. Default: BROWSER, else xdg-open / open / the Windows URL handler. */
  openBrowser?: (url: string) => Promise<void>;
  /**
   * `browser`: listener + browser. `paste`: print the URL and read the redirected address (or code) from `input`
   * (the listener still runs when it can, for `ssh -L`). `auto` (default): `browser`, unless there is no display or
   * this is an SSH session, then `paste` with a word why.
   */
  mode?: "auto" | "browser" | "paste";
  /** Where pasted responses come from (stdin). Without it, paste mode cannot work. */
  input?: Readable;
  /** Progress for people (stderr). Never receives a code, token or secret. */
  output?: Writable;
  /** Spinner and elapsed time only on a terminal. */
  outputIsTTY?: boolean;
  timeoutMs?: number;
  runtime?: Partial<Pick<Runtime, "randomBytes" | "now" | "env">>;
  env?: Env;
  platform?: NodeJS.Platform;
  /** Fixed loopback port (`--port`, for `ssh -L`); the request's callbackPort otherwise; else ephemeral. */
  port?: number;
  /** Cancels a waiting login (Ctrl-C), in addition to the request's own signal. */
  signal?: AbortSignal;
}

/** Where the redirect goes and where (if anywhere) we listen for it. */
export interface RedirectPlan {
  /** Exactly what is sent as redirect_uri (undefined: decided once the ephemeral port is known). */
  redirectUri?: string;
  listen?: { host: LoopbackHost; port: number; path: string };
  /** Host name to write into a redirect_uri decided at listen time (the registered one's, e.g. `localhost`). */
  uriHost?: string;
}

const LOOPBACK: Record<string, LoopbackHost> = { localhost: "127.0.0.1", "127.0.0.1": "127.0.0.1", "[::1]": "::1" };

export function planRedirect(registered: string | undefined, port: number | undefined): RedirectPlan {
  if (!registered) return { listen: { host: "127.0.0.1", port: port ?? 0, path: DEFAULT_CALLBACK_PATH } };
  let u: URL;
  try {
    u = new URL(registered);
  } catch {
    throw new HpauthError("CONFIG_INVALID", `The profile's redirect URI is not a URL: ${registered}`);
  }
  const host = LOOPBACK[u.hostname];
  // https://localhost would need a certificate we do not have; such a redirect can only be pasted back.
  if (u.protocol !== "http:" || !host) return { redirectUri: registered };
  if (!u.port) {
    // RFC 8252 §7.3: the server must accept any port on a loopback redirect URI, so a registration without one
    // (TechPulse's sample registers `http://localhost`) means an ephemeral port (or --port), never port 80.
    return { listen: { host, port: port ?? 0, path: u.pathname || "/" }, uriHost: u.hostname };
  }
  const fixed = Number(u.port);
  if (port !== undefined && port !== fixed) {
    throw new HpauthError(
      "USAGE",
      `The profile's registered redirect URI ${registered} fixes port ${fixed}; --port ${port} would not match it`,
      { hint: `Use --port ${fixed} (and ssh -L ${fixed}:127.0.0.1:${fixed}), or drop --port.` },
    );
  }
  return { redirectUri: registered, listen: { host, port: fixed, path: u.pathname || "/" } };
}

export function createLoopbackAuthorizer(options: LoopbackAuthorizerOptions = {}): InteractiveAuthorizer {
  const runtime = defaultRuntime(options.runtime ?? {});
  const env: Env = options.env ?? options.runtime?.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
  const openBrowser = options.openBrowser ?? ((url: string) => openSystemBrowser(url, { env, platform }));

  return async (request: AuthorizationRequest): Promise<AuthorizationResult> => {
    const progress = createProgress(options.output, options.outputIsTTY === true, runtime.now);
    const context = { provider: request.provider, profile: request.profile };
    const state = new SingleUseState(newState(runtime.randomBytes));
    const pkce = request.pkce ? newPkcePair(runtime.randomBytes) : undefined;
    const plan = planRedirect(request.redirectUri, options.port ?? request.callbackPort);

    let mode = options.mode ?? "auto";
    let headless: string | undefined;
    if (mode === "auto") {
      headless = headlessReason(env, platform);
      mode = headless ? "paste" : "browser";
    }
    if (mode === "browser" && !plan.listen) {
      progress.line(`The redirect URI ${plan.redirectUri} is not a loopback address: paste the address back here.`);
      mode = "paste";
    }
    if (mode === "paste" && !options.input) {
      throw new HpauthError("USAGE", "Paste-back login needs an input to read the redirected address from");
    }

    const abort = new AbortController();
    const stopOn = (s: AbortSignal | undefined) => {
      if (!s) return;
      if (s.aborted) abort.abort();
      else s.addEventListener("abort", () => abort.abort(), { once: true, signal: abort.signal });
    };
    let listener: CallbackListener | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      stopOn(request.signal);
      stopOn(options.signal);
      if (abort.signal.aborted) throw cancelled(context);

      if (plan.listen) {
        try {
          listener = await startCallbackListener({
            ...plan.listen,
            state,
            context,
            onNotice: (n) => {
              if (n.type === "forged") {
                progress.line(
                  n.reason === "used"
                    ? "Refused a replayed login response (answered 401)."
                    : "Refused a login response with a wrong or missing state (answered 401); still waiting.",
                );
              } else if (n.type === "bad-host") {
                progress.line("Refused a request to the login listener under a non-loopback host name.");
              }
            },
          });
        } catch (e) {
          // In paste mode a busy fixed port only costs the automatic path; the pasted address still works.
          if (mode === "browser" || !plan.redirectUri) throw e;
          progress.line(`(${isHpauthError(e) ? e.message : String(e)}; only paste-back will work.)`);
        }
      }
      const redirectUri =
        plan.redirectUri ??
        `http://${plan.uriHost ?? (listener!.host === "::1" ? "[::1]" : listener!.host)}:${listener!.port}${plan.listen!.path}`;
      const url = request.authorizationUrl({
        redirectUri,
        state: state.value,
        ...(pkce ? { codeChallenge: pkce.codeChallenge } : {}),
      }).href;
      assertNoSecretInUrl(url);

      const outcome = new Promise<string>((resolve, reject) => {
        timer = setTimeout(() => {
          reject(
            new HpauthError("TIMEOUT", `No login response arrived within ${describeDuration(timeoutMs)}`, {
              ...context,
              hint: "Run `hpauth login` again (and finish it in the browser), or allow longer with --timeout.",
            }),
          );
        }, timeoutMs);
        abort.signal.addEventListener("abort", () => reject(cancelled(context)), { once: true });
        listener?.result.then((r) => resolve(r.code), reject);

        const startPaste = (why: "paste" | "fallback") => {
          const target = plan.redirectUri ?? redirectUri;
          if (why === "paste") {
            if (headless) progress.line(`No browser can be opened here: ${headless}.`);
            progress.line(`Open this URL in a browser (on any machine) and sign in:\n\n  ${url}\n`);
          }
          progress.line(
            `The browser then goes to ${target}?code=…; if that page does not load, that is expected: ` +
              "copy the full address from the address bar and paste it here.",
          );
          if (listener && plan.listen?.port) {
            const p = listener.port;
            progress.line(
              `Or forward the port from the machine with the browser (ssh -L ${p}:127.0.0.1:${p} <this host>) and the login finishes by itself.`,
            );
          } else if (why === "paste") {
            progress.line(
              "Or: ssh -L 8400:127.0.0.1:8400 <this host>, then `hpauth login --port 8400` and open the URL on your machine.",
            );
          }
          progress.line("Paste the address (Ctrl-C to cancel):");
          void readPastedLines(
            options.input!,
            (line) => {
              const pasted = parsePasted(line);
              if (pasted.kind === "empty") return false;
              if (pasted.kind === "bare-code") {
                // A bare code has no state to check. With PKCE the code is bound to our verifier, so an injected
                // code fails at the exchange; without PKCE we insist on the whole address.
                if (pkce) {
                  resolveOnce(pasted.code);
                  return true;
                }
                progress.line(
                  "A code alone cannot be checked against this login: paste the whole address (it has state=…).",
                );
                return false;
              }
              const verdict = judgeCallback(pasted.params, state, context);
              if (verdict.kind === "bad-state") {
                progress.line(
                  verdict.reason === "missing"
                    ? "That address has no state: paste the whole address the browser landed on."
                    : verdict.reason === "used"
                      ? "That response was already used."
                      : "That response does not belong to this login (wrong state): ignored. Paste the address from this login's tab.",
                );
                return false;
              }
              if (verdict.kind === "error") reject(verdict.error);
              else resolveOnce(verdict.code);
              return true;
            },
            abort.signal,
          ).then((how) => {
            if (how !== "eof") return;
            // The listener can still finish the login when someone is at the terminal, or when its port is fixed
            // (a tunnel, ssh -L, can reach it). An ephemeral port with no terminal and no input: nothing can come.
            if (listener && !state.used && (options.outputIsTTY === true || plan.listen?.port)) {
              progress.line("(Input closed; still waiting for the browser redirect.)");
            } else if (!state.used) {
              reject(
                new HpauthError("LOGIN_REQUIRED", "The input ended before a login response was pasted", {
                  ...context,
                  hint: "Run `hpauth login --no-browser` in a terminal, or pipe the redirected address into it, or fix the port (--port N) and forward it with ssh -L N:127.0.0.1:N.",
                }),
              );
            }
          });
        };
        const resolveOnce = (code: string) => resolve(code);

        if (mode === "paste") {
          startPaste("paste");
        } else {
          progress.line(`Opening the browser to sign in (${request.provider}, profile ${request.profile}).`);
          progress.line(`If it does not open, visit:\n\n  ${url}\n`);
          openBrowser(url).then(
            () => progress.spin("Waiting for the login in the browser (Ctrl-C to cancel)"),
            (e: unknown) => {
              progress.line(`Could not open a browser (${isHpauthError(e) ? e.message : String(e)}).`);
              if (options.input) startPaste("fallback");
              else progress.spin("Waiting for the login in the browser (Ctrl-C to cancel)");
            },
          );
          if (options.outputIsTTY !== true) {
            progress.line(`Waiting up to ${describeDuration(timeoutMs)} for the login (Ctrl-C to cancel)…`);
          }
        }
      });
      const started = runtime.now();
      const code = await outcome;
      progress.stop();
      progress.line(`Login response received after ${formatElapsed(runtime.now() - started)}.`);
      return { code, redirectUri, ...(pkce ? { codeVerifier: pkce.codeVerifier } : {}) };
    } finally {
      progress.stop();
      if (timer) clearTimeout(timer);
      abort.abort();
      await listener?.close();
    }
  };
}

function cancelled(context: { provider: string; profile: string }): HpauthError {
  return new HpauthError("CANCELLED", "Login cancelled", context);
}

function describeDuration(ms: number): string {
  return formatMs(ms);
}
