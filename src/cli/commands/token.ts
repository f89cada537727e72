/**
 * `hpauth token` / `hpauth header`: the credential-helper path. stdout holds the token (or the header line) and
 * nothing else; everything for humans goes to stderr.
 */

import { HpauthError } from "../../engine/errors.js";
import type { AccessToken, InteractiveAuthorizer, NamedProfile } from "../../engine/types.js";
import type { TokenStore } from "../../stores/types.js";
import { clearProgress, makeManager, openStore, resolveCliProfile, warn } from "../context.js";
import type { CommandIO } from "../io.js";
import type { HeaderOptions, TokenOptions } from "../options.js";
import { formatDuration } from "../time.js";
import { capMinTtl, recordLifetime, tokenOutput } from "./token-core.js";

export { tokenJson } from "./token-core.js";

/**
 * A browser login when one is needed and a person is at the terminal (stdin and stderr both TTYs), as `hpauth login`
 * would do it. The login module (loopback listener, browser launcher) is imported only then: a cached token never
 * pays for it. Without a terminal the engine reports LOGIN_REQUIRED (exit 3) with the `hpauth login` hint.
 */
export function terminalAuthorizer(io: CommandIO, profile: NamedProfile): InteractiveAuthorizer | undefined {
  if (!io.stdinIsTTY || !io.stderrIsTTY) return undefined;
  return async (request) => {
    clearProgress(io);
    const { createCliAuthorizer } = await import("./login.js");
    return createCliAuthorizer({}, io, profile)(request);
  };
}

/** The lifetime (s) of the stored token, from when it was obtained to when the engine stops trusting it. */
async function storedLifetime(store: TokenStore, key: string): Promise<number | undefined> {
  const rec = await store.get(key).catch(() => undefined); // a damaged record: getToken reports it
  return recordLifetime(rec);
}

/**
 * A --min-ttl no token can satisfy (not shorter than the tokens' lifetime) would make every call get a new token:
 * it is capped at half the lifetime, with a warning (the engine caps its own refresh margin the same way).
 */
async function effectiveMinTtl(
  options: TokenOptions,
  io: CommandIO,
  store: TokenStore,
  key: string,
): Promise<{ minTtl?: number; warned: boolean }> {
  const asked = options.minTtl;
  if (asked === undefined || asked === 0) return { ...(asked !== undefined ? { minTtl: asked } : {}), warned: false };
  const lifetime = await storedLifetime(store, key);
  const { minTtl: capped, capped: warned } = capMinTtl(asked, lifetime);
  if (!warned || lifetime === undefined) return { minTtl: asked, warned: false };
  warn(
    io,
    options,
    `Warning: --min-ttl ${asked} is not shorter than the ${formatDuration(lifetime)} lifetime of this profile's tokens, so no token can satisfy it; using ${capped} (half the lifetime) instead of getting a new token on every call.`,
  );
  return { minTtl: capped, warned: true };
}

async function obtain(
  options: TokenOptions,
  io: CommandIO,
  extra: { interactive?: boolean } = {},
): Promise<AccessToken> {
  // --timeout: one deadline over everything below (config, secrets, store, lock, network, a browser login).
  const deadline = options.timeout !== undefined ? AbortSignal.timeout(options.timeout * 1000) : undefined;
  const signal = deadline ? AbortSignal.any([io.signal, deadline]) : io.signal;
  try {
    const { profile, config } = await resolveCliProfile(options, io);
    const store = openStore(options, io, undefined, config);
    try {
      // kubectl says whether its user may be asked (KUBERNETES_EXEC_INFO spec.interactive): false → no browser.
      const authorizer = extra.interactive === false ? undefined : terminalAuthorizer(io, profile);
      const manager = makeManager(options, io, profile, store, authorizer ? { authorizer } : {});
      const { minTtl, warned } = await effectiveMinTtl(options, io, store, manager.key);
      const token = await manager.getToken({
        forceRefresh: options.forceRefresh === true,
        ...(minTtl !== undefined ? { minTtlSeconds: minTtl } : {}),
        signal,
      });
      const left = Math.floor((token.expiresAt.getTime() - Date.now()) / 1000);
      if (!warned && minTtl !== undefined && token.source !== "cache" && left < minTtl) {
        warn(
          io,
          options,
          `Warning: --min-ttl ${minTtl} is longer than this new token is valid (${formatDuration(left)}); later calls will ask for half the tokens' lifetime instead of a new token every time.`,
        );
      }
      return token;
    } finally {
      await store.close?.();
      clearProgress(io);
    }
  } catch (e) {
    if (deadline?.aborted && !io.signal.aborted) {
      throw new HpauthError("TIMEOUT", `No token within ${options.timeout} s (--timeout ${options.timeout})`, {
        hint: "The identity service, the token store or a login did not finish in time: try again, or allow longer with --timeout.",
        cause: e,
      });
    }
    throw e;
  }
}

async function readStdin(io: CommandIO, signal: AbortSignal): Promise<string> {
  let text = "";
  for await (const chunk of io.stdin.iterator({ destroyOnReturn: false })) {
    if (signal.aborted) break;
    text += String(chunk);
    if (text.length > 65_536) break; // a {"uri": …} request; anything longer is not one
  }
  return text;
}

export async function runToken(options: TokenOptions, io: CommandIO): Promise<number> {
  const format = options.format ?? (options.json ? "json" : "raw");
  if (format === "raw" || format === "json") {
    io.stdout.write(tokenOutput("token", format === "json", await obtain(options, io)));
    return 0;
  }
  const formats = await import("../token-formats.js");
  switch (format) {
    case "header":
      io.stdout.write(`${formats.headerLine(await obtain(options, io))}\n`);
      return 0;
    case "az":
      io.stdout.write(`${formats.azJson(await obtain(options, io))}\n`);
      return 0;
    case "exec-credential": {
      const request = formats.execCredentialRequest(io.env);
      const token = await obtain(
        options,
        io,
        request.interactive !== undefined ? { interactive: request.interactive } : {},
      );
      io.stdout.write(`${formats.execCredentialJson(token, request.apiVersion)}\n`);
      return 0;
    }
    case "bazel": {
      if (options.helperCommand === "get") formats.parseBazelRequest(await readStdin(io, io.signal));
      // Bazel gives the helper no terminal: a login it would need is reported (exit 3), not started.
      const token = await obtain(options, io, options.helperCommand === "get" ? { interactive: false } : {});
      io.stdout.write(`${formats.bazelJson(token)}\n`);
      return 0;
    }
    case "env": {
      const name = options.envName ?? "HPAUTH_TOKEN";
      if (!formats.ENV_NAME.test(name)) {
        throw new HpauthError("USAGE", `--env ${name}: not an environment variable name`); // before any network
      }
      io.stdout.write(`${formats.envLines(await obtain(options, io), name)}\n`);
      return 0;
    }
  }
}

export async function runHeader(options: HeaderOptions, io: CommandIO): Promise<number> {
  const token = await obtain(options, io);
  io.stdout.write(tokenOutput("header", options.json, token));
  return 0;
}
