/**
 * The loopback redirect listener (RFC 8252 §7.3): bound to 127.0.0.1 or [::1] only, an ephemeral port unless the
 * registered redirect URI or `--port` fixes one. It answers callbacks whose state is wrong or missing with 401 and
 * keeps waiting; the first callback with the right state ends it, and the server closes behind it.
 * node:http rather than a framework: one route, and we want full control of every header on the page.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { HpauthError } from "../errors.js";
import { type CallbackContext, judgeCallback } from "./callback.js";
import { sendPage } from "./page.js";
import type { SingleUseState } from "./state.js";

export type LoopbackHost = "127.0.0.1" | "::1";

/** What the listener can tell the terminal about (never the code, never the state). */
export type ListenerNotice =
  | { type: "forged"; reason: "missing" | "mismatch" | "used" }
  | { type: "bad-host"; host: string }
  | { type: "not-found"; path: string };

export interface CallbackListenerOptions {
  host: LoopbackHost;
  /** 0 = ephemeral. */
  port: number;
  /** The path of the redirect URI, e.g. `/callback`. */
  path: string;
  state: SingleUseState;
  context?: CallbackContext;
  onNotice?: (n: ListenerNotice) => void;
}

export interface CallbackListener {
  host: LoopbackHost;
  port: number;
  /** Resolves with the code of the first callback that carries the right state; rejects on an error response. */
  result: Promise<{ code: string }>;
  /** Idempotent; drops open connections (a browser's keep-alive would hold the port otherwise). */
  close(): Promise<void>;
}

const LOOPBACK_HOSTNAMES = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** The Host header must name the loopback interface: a DNS-rebound page on some other name is turned away. */
function hostAllowed(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(hostHeader.trim().toLowerCase());
  return m !== null && LOOPBACK_HOSTNAMES.has(m[1]!);
}

export async function startCallbackListener(options: CallbackListenerOptions): Promise<CallbackListener> {
  let settle: { resolve: (v: { code: string }) => void; reject: (e: unknown) => void } | undefined;
  const result = new Promise<{ code: string }>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // The caller may close before awaiting `result`; an unobserved rejection must not crash the process.
  result.catch(() => {});
  let done = false;

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const fail = (status: number, title: string, lines: string[]) =>
      sendPage(res, status, { title, kind: "fail", lines });
    if (!hostAllowed(req.headers.host)) {
      options.onNotice?.({ type: "bad-host", host: String(req.headers.host ?? "").slice(0, 100) });
      fail(400, "Wrong host", ["This listener only answers on the loopback interface."]);
      return;
    }
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== options.path) {
      // Browsers ask for /favicon.ico; not worth a notice.
      if (url.pathname !== "/favicon.ico") options.onNotice?.({ type: "not-found", path: url.pathname.slice(0, 100) });
      fail(404, "Not found", ["Nothing here. hpauth is waiting for the login redirect on another path."]);
      return;
    }
    if (req.method !== "GET") {
      res.setHeader("Allow", "GET");
      fail(405, "Method not allowed", ["The login redirect is a GET request."]);
      return;
    }
    if (done) {
      fail(410, "Login already finished", ["This login has already finished. You can close this tab."]);
      return;
    }
    const verdict = judgeCallback(url.searchParams, options.state, options.context);
    if (verdict.kind === "bad-state") {
      options.onNotice?.({ type: "forged", reason: verdict.reason });
      fail(401, "Not this login", [
        verdict.reason === "used"
          ? "This login response was already used."
          : "The response does not belong to the login hpauth is waiting for (its state is wrong or missing).",
        "If you did not start this, close this tab. hpauth keeps waiting for the right response.",
      ]);
      return;
    }
    done = true;
    if (verdict.kind === "error") {
      fail(verdict.error.code === "ACCESS_DENIED" ? 403 : 400, "Login failed", [
        verdict.error.message,
        "You can close this tab and return to the terminal.",
      ]);
      settle?.reject(verdict.error);
    } else {
      sendPage(res, 200, {
        title: "Login complete",
        kind: "ok",
        lines: ["hpauth received the authorization. You can close this tab and return to the terminal."],
      });
      settle?.resolve({ code: verdict.code });
    }
    // One valid callback, then the listener closes: once this response has gone out.
    res.on("finish", () => void close());
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      const where = `${options.host === "::1" ? "[::1]" : options.host}:${options.port}`;
      if (e.code === "EADDRINUSE") {
        reject(
          new HpauthError("USAGE", `Cannot listen for the login redirect on ${where}: the port is in use`, {
            hint: "Free the port, choose another with --port (if the redirect URI allows it), or use --no-browser.",
            cause: e,
          }),
        );
      } else if (e.code === "EACCES") {
        reject(
          new HpauthError("USAGE", `Not allowed to listen on ${where} for the login redirect`, {
            hint: "Ports below 1024 need privileges; register a redirect URI with a higher port, or use --no-browser.",
            cause: e,
          }),
        );
      } else if (e.code === "EADDRNOTAVAIL" || e.code === "EAFNOSUPPORT") {
        reject(new HpauthError("USAGE", `The loopback address ${where} is not available here`, { cause: e }));
      } else {
        reject(new HpauthError("NETWORK_ERROR", `Cannot listen on ${where}: ${e.code ?? e.message}`, { cause: e }));
      }
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    // exclusive: never share the port with another process's listener (cluster-style handle sharing).
    server.listen({ host: options.host, port: options.port, exclusive: true });
  });
  // A stray error later (a reset socket) must not crash the process; it is per-connection and harmless here.
  server.on("error", () => {});
  server.on("clientError", (_e, socket) => socket.destroy());

  const port = (server.address() as AddressInfo).port;
  return { host: options.host, port, result, close };
}
