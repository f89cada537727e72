/**
 * Client secrets and passwords, from an inline value, an environment variable or a command (password managers:
 * `op read …`, `pass show …`). The command string is configuration, not a secret; its stdout is. The command runs
 * through `/bin/sh -c` so the secret never appears in any argv, and its output never reaches an error message.
 */
import { formatMs } from "./duration.js";
import { HpauthError } from "./errors.js";
import { withConfigKeys } from "./field-names.js";
import { bodyExcerpt } from "./redact.js";

export type SecretField = "clientSecret" | "password";

/** Where a secret comes from. The inline value is held in a private field, so a JSON dump or a log shows no secret. */
export class SecretRef {
  readonly field: SecretField;
  readonly kind: "inline" | "env" | "command";
  /** The env var name or the command (not secret); absent for inline values. */
  readonly source?: string;
  readonly #value?: string;

  constructor(field: SecretField, kind: "inline" | "env" | "command", sourceOrValue: string) {
    this.field = field;
    this.kind = kind;
    if (kind === "inline") this.#value = sourceOrValue;
    else this.source = sourceOrValue;
  }

  /** For the inline kind only. */
  inlineValue(): string | undefined {
    return this.#value;
  }

  toJSON(): Record<string, string> {
    return this.kind === "inline"
      ? { field: this.field, kind: "inline" }
      : { field: this.field, kind: this.kind, source: this.source ?? "" };
  }
}

export interface SecretResolveOptions {
  env: Readonly<Record<string, string | undefined>>;
  timeoutMs?: number;
  profile?: string;
  signal?: AbortSignal;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
const MAX_OUTPUT = 64 * 1024;
/** How much of a failing command's stderr is kept, and how much of that reaches the message. */
const MAX_STDERR = 8 * 1024;
const STDERR_EXCERPT = 300;

export async function resolveSecret(ref: SecretRef, options: SecretResolveOptions): Promise<string> {
  const where = options.profile ? ` for profile "${options.profile}"` : "";
  if (ref.kind === "inline") return ref.inlineValue() ?? "";
  if (ref.kind === "env") {
    const value = options.env[ref.source ?? ""];
    if (value === undefined || value === "") {
      throw new HpauthError(
        "SECRET_UNAVAILABLE",
        withConfigKeys(
          `${ref.field}: environment variable ${ref.source} (named by ${ref.field}Env${where}) is not set or empty`,
        ),
        {
          hint: withConfigKeys(`Export ${ref.source}, or configure ${ref.field}Command instead.`),
          profile: options.profile,
        },
      );
    }
    return value;
  }
  return runSecretCommand(ref, options, where);
}

async function runSecretCommand(ref: SecretRef, options: SecretResolveOptions, where: string): Promise<string> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const fail = (why: string) =>
    new HpauthError("SECRET_UNAVAILABLE", withConfigKeys(`${ref.field}: ${ref.field}Command${where} ${why}`), {
      hint: withConfigKeys(`Check that the command in ${ref.field}Command prints the secret on stdout and exits 0.`),
      profile: options.profile,
    });
  // node:child_process loads only when a *Command secret is read: a cached token needs no secret at all.
  const { spawn } = await import("node:child_process");
  return new Promise((resolve, reject) => {
    // The command string goes to sh as its script argument; it holds no secret, only how to get one.
    const child = spawn("/bin/sh", ["-c", ref.source ?? ""], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...(options.env as NodeJS.ProcessEnv) },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const errChunks: Buffer[] = [];
    let stderrBytes = 0;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill("SIGKILL");
      reject(fail(`did not finish within ${formatMs(timeoutMs)}`));
    }, timeoutMs);
    child.stdout.on("data", (d: Buffer) => {
      size += d.length;
      if (size <= MAX_OUTPUT) chunks.push(d);
    });
    // stderr says why a password manager failed ("not signed in", "item not found"): kept, bounded, for the
    // error message only, and redacted there; on success it is dropped (it may echo a prompt or the secret).
    child.stderr.on("data", (d: Buffer) => {
      if (stderrBytes < MAX_STDERR) errChunks.push(d.subarray(0, MAX_STDERR - stderrBytes));
      stderrBytes += d.length;
    });
    child.on("error", (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(
        options.signal?.aborted
          ? new HpauthError("CANCELLED", "Cancelled while running a secret command.")
          : fail(`could not be started (${(e as NodeJS.ErrnoException).code ?? "error"})`),
      );
    });
    child.on("close", (code, sig) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (code !== 0) {
        // Whatever it printed on stdout may be the secret (or part of it): masked wherever it shows up in stderr.
        const printed = Buffer.concat(chunks).toString("utf8").split(/\r?\n/);
        const said = bodyExcerpt(Buffer.concat(errChunks).toString("utf8"), printed, STDERR_EXCERPT);
        reject(fail(`failed (${sig ? `signal ${sig}` : `exit status ${code}`})${said ? `: ${said}` : ""}`));
        return;
      }
      if (size > MAX_OUTPUT) {
        reject(fail("printed more than 64 KiB"));
        return;
      }
      let out = Buffer.concat(chunks).toString("utf8");
      if (out.endsWith("\r\n")) out = out.slice(0, -2);
      else if (out.endsWith("\n")) out = out.slice(0, -1);
      if (out === "") {
        reject(fail("printed nothing"));
        return;
      }
      resolve(out);
    });
  });
}
