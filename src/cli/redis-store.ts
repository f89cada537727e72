/**
 * The CLI's Redis store: settings from the environment (HPAUTH_STORE_*) over the config file's `store*` keys, the
 * password and encryption key resolved from an environment variable or a command (never argv, never a log), and
 * src/stores/redis.ts with its Redis client imported only when the first operation runs.
 */
import { readFile } from "node:fs/promises";
import type { StoreConfig } from "../config/load.js";
import { HpauthError } from "../engine/errors.js";
import { resolveSecret, SecretRef } from "../engine/secrets.js";
import { parseRedisUrl } from "../stores/redis-url.js";
import type { LockOptions, SetOptions, TokenRecord, TokenStore } from "../stores/types.js";

type Env = Readonly<Record<string, string | undefined>>;

export interface CliRedisOptions {
  url: string;
  /** Where the URL came from, for messages. */
  source: "--store" | "HPAUTH_STORE" | "config";
  config?: StoreConfig;
  env: Env;
  onWarning: (message: string) => void;
  /** --verbose: one line naming the store once it is open. */
  onVerbose?: (message: string) => void;
}

/** Checks the URL now (a usage error before any work); connects on first use. */
export function openCliRedisStore(options: CliRedisOptions): TokenStore {
  const parsed = parseRedisUrl(options.url);
  if (parsed.hasPassword && options.source !== "HPAUTH_STORE") {
    throw new HpauthError(
      "USAGE",
      `The Redis URL in ${options.source === "config" ? "the config file's `store`" : "--store"} contains a password; refusing it (${options.source === "config" ? "config files get shared" : "argv shows in ps and shell history"}).`,
      {
        hint: `Use ${parsed.display} and put the password in HPAUTH_STORE_PASSWORD (or store_password_env / store_password_command in the config file).`,
      },
    );
  }
  return new CliRedisStore(options, parsed.display);
}

class CliRedisStore implements TokenStore {
  readonly kind = "redis";
  readonly location: string;
  readonly #options: CliRedisOptions;
  #inner?: Promise<TokenStore>;

  constructor(options: CliRedisOptions, display: string) {
    this.#options = options;
    this.location = `${display} prefix=${settings(options).prefix ?? "hpauth:"}`;
  }

  #open(): Promise<TokenStore> {
    this.#inner ??= (async () => {
      const s = settings(this.#options);
      const [mod, password, encryptionKey, ca] = await Promise.all([
        import("../stores/redis.js"),
        secret("password", s.passwordEnvVar, s.passwordEnv, s.passwordCommand, this.#options.env),
        secret("key", s.keyEnvVar, s.keyEnv, s.keyCommand, this.#options.env),
        s.tlsCa ? readCa(s.tlsCa) : undefined,
      ]);
      const store = new mod.RedisTokenStore({
        url: this.#options.url,
        ...(password ? { password } : {}),
        ...(encryptionKey ? { encryptionKey } : {}),
        ...(s.prefix ? { prefix: s.prefix } : {}),
        ...(ca ? { tls: { ca } } : {}),
        onWarning: this.#options.onWarning,
      });
      this.#options.onVerbose?.(`[hpauth] store: redis ${store.location}${encryptionKey ? " (encrypted)" : ""}`);
      return store;
    })();
    return this.#inner;
  }

  async get(key: string): Promise<TokenRecord | undefined> {
    return (await this.#open()).get(key);
  }
  async set(key: string, record: TokenRecord, options?: SetOptions): Promise<void> {
    return (await this.#open()).set(key, record, options);
  }
  async delete(key: string): Promise<void> {
    return (await this.#open()).delete(key);
  }
  async list(): Promise<string[]> {
    return (await this.#open()).list();
  }
  async withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    return (await this.#open()).withLock(key, fn, options);
  }
  async close(): Promise<void> {
    if (!this.#inner) return;
    const s = await this.#inner.catch(() => undefined);
    await s?.close?.();
  }
}

function settings(o: CliRedisOptions) {
  const c = o.config ?? {};
  const env = o.env;
  return {
    prefix: env.HPAUTH_STORE_PREFIX || c.prefix,
    tlsCa: env.HPAUTH_STORE_TLS_CA || c.tlsCa,
    passwordEnvVar: env.HPAUTH_STORE_PASSWORD ? "HPAUTH_STORE_PASSWORD" : undefined,
    passwordEnv: c.passwordEnv,
    passwordCommand: c.passwordCommand,
    keyEnvVar: env.HPAUTH_STORE_KEY ? "HPAUTH_STORE_KEY" : undefined,
    keyEnv: c.keyEnv,
    keyCommand: c.keyCommand,
  };
}

/** HPAUTH_STORE_PASSWORD / _KEY, else the variable named in the config, else the config's command; or none. */
async function secret(
  what: "password" | "key",
  fixedVar: string | undefined,
  envName: string | undefined,
  command: string | undefined,
  env: Env,
): Promise<string | undefined> {
  const name = fixedVar ?? envName;
  const configKey = what === "password" ? "store_password" : "store_key";
  if (name) {
    const v = env[name];
    if (!v) {
      throw new HpauthError("SECRET_UNAVAILABLE", `${configKey}_env names ${name}, which is not set or empty.`, {
        hint: `Export ${name}, or remove ${configKey}_env from the config file.`,
      });
    }
    return v;
  }
  if (!command) return undefined;
  try {
    return await resolveSecret(new SecretRef("password", "command", command), { env });
  } catch (e) {
    const why = e instanceof HpauthError ? e.message.replace(/^password: passwordCommand\s*/, "") : "failed";
    throw new HpauthError("SECRET_UNAVAILABLE", `${configKey}_command ${why}`, {
      hint: `Check that ${configKey}_command prints the ${what === "password" ? "Redis password" : "store encryption key"} on stdout and exits 0.`,
    });
  }
}

async function readCa(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    throw new HpauthError(
      "CONFIG_INVALID",
      `Cannot read the Redis TLS CA file ${path} (${(e as NodeJS.ErrnoException).code ?? "error"}).`,
      {
        hint: "Set HPAUTH_STORE_TLS_CA or store_tls_ca to a PEM file with the CA certificate.",
      },
    );
  }
}
