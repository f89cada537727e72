/**
 * `hpauth exec [-p NAME] [--env VAR] [--min-ttl S] -- CMD [ARGS…]`: runs CMD with a fresh access token in its
 * environment (VAR, default HPAUTH_TOKEN; `--env HPEGL_IAM_TOKEN` for the hpegl Terraform provider), never in its
 * argv. stdio is inherited, signals forwarded (see ../child.ts), and CMD's exit status is hpauth's. The token is
 * fetched once, before CMD starts: a run longer than the token's life needs --min-ttl (or a tool that calls
 * `hpauth token` itself, or `hpauth proxy`).
 */
import { rfc3339 } from "../../engine/dates.js";
import { HpauthError } from "../../engine/errors.js";
import { runChild } from "../child.js";
import { clearProgress, makeManager, openStore, resolveCliProfile, warn } from "../context.js";
import type { CommandIO } from "../io.js";
import type { GlobalOptions } from "../options.js";
import { terminalAuthorizer } from "./token.js";

export interface ExecOptions extends GlobalOptions {
  /** The command and its arguments (after `--`). */
  command: string[];
  /** Environment variable that receives the token (default HPAUTH_TOKEN). */
  env?: string;
  /** The token must stay valid at least this many seconds (default: the engine's refresh margin). */
  minTtl?: number;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export async function runExec(options: ExecOptions, io: CommandIO): Promise<number> {
  const [file, ...args] = options.command;
  if (!file) {
    throw new HpauthError("USAGE", "hpauth exec needs a command to run", {
      hint: "For example: hpauth exec -p gl --env HPEGL_IAM_TOKEN -- terraform plan",
    });
  }
  const name = options.env ?? "HPAUTH_TOKEN";
  if (!ENV_NAME.test(name)) throw new HpauthError("USAGE", `--env ${name}: not an environment variable name`);

  const { profile } = await resolveCliProfile(options, io);
  const store = openStore(options, io);
  let token: string;
  let expiresAt: Date;
  try {
    const authorizer = terminalAuthorizer(io, profile);
    const manager = makeManager(options, io, profile, store, authorizer ? { authorizer } : {});
    const t = await manager.getToken({
      ...(options.minTtl !== undefined ? { minTtlSeconds: options.minTtl } : {}),
      signal: io.signal,
    });
    token = t.accessToken;
    expiresAt = t.expiresAt;
    const left = Math.floor((t.expiresAt.getTime() - Date.now()) / 1000);
    if (options.minTtl !== undefined && left < options.minTtl) {
      // The provider's tokens do not live that long: say so before a long run fails midway.
      warn(
        io,
        options,
        `Warning: the token expires in ${left} s, before --min-ttl ${options.minTtl} s: ${profile.provider} tokens do not live that long. Split the run, or use a tool that asks for a token itself.`,
      );
    }
  } finally {
    await store.close?.();
    clearProgress(io);
  }
  // A cancelled token fetch has thrown above (130); from here on the child owns the terminal and the signals.
  return runChild(file, args, {
    env: {
      ...io.env,
      [name]: token,
      HPAUTH_TOKEN_EXPIRES_AT: rfc3339(expiresAt) ?? "",
    },
    stdio: "inherit",
    stdinIsTTY: io.stdinIsTTY,
    stderr: io.stderr,
  });
}
