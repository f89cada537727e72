/** Options every command gets (global flags, src/cli/globals.ts), as parsed by argv.ts. */
export interface GlobalOptions {
  config?: string;
  profile?: string;
  /** Every `-p` given, in order, when there was more than one (`hpauth proxy -p a -p b`); `profile` is the last. */
  profiles?: string[];
  json: boolean;
  verbose: boolean;
  quiet: boolean;
  color: boolean;
  /** `file` (default), `memory`, or a `redis://` / `rediss://` URL (checked by globals.ts parseStore). */
  store?: string;
  storeDir?: string;
  /** Profile field flags, camelCase keys, raw values (strings; booleans for --pkce/--no-pkce). */
  fields: Record<string, unknown>;
}

/** `hpauth token --format`: each the format of the tool it is named after (src/cli/token-formats.ts). */
export type TokenFormat = "raw" | "json" | "header" | "az" | "exec-credential" | "bazel" | "env";

export interface TokenOptions extends GlobalOptions {
  minTtl?: number;
  forceRefresh: boolean;
  /** Seconds: an overall deadline (then TIMEOUT, exit 5). */
  timeout?: number;
  /** token only; default raw (json with --json). */
  format?: TokenFormat;
  /** --format env: the variable that receives the token (default HPAUTH_TOKEN). */
  envName?: string;
  /** --format bazel: the credential-helper command Bazel gives (`get`: read its request on stdin). */
  helperCommand?: string;
}
export type HeaderOptions = TokenOptions;

export interface StatusOptions extends GlobalOptions {}

export interface InspectOptions extends GlobalOptions {
  /** A token to decode instead of the profile's current one; `-` reads it from stdin. */
  token?: string;
}

export interface LogoutOptions extends GlobalOptions {
  all: boolean;
  /** --yes / --force: delete a refresh token whose loss costs a login-budget wait (Aruba) without asking. */
  yes?: boolean;
}

export interface ProfilesOptions extends GlobalOptions {
  action: "list" | "show" | "add" | "remove";
  name?: string;
  /** add: make it default_profile. */
  makeDefault?: boolean;
  /** add: also write secrets typed at the prompt into the file (off by default). */
  saveSecrets?: boolean;
  /** add: never prompt, even on a TTY. */
  nonInteractive?: boolean;
}

export interface DemoOptions extends GlobalOptions {}

// `emulate` and `login` take the option types their own modules export (RunEmulateOptions, RunLoginOptions);
// their definitions (commands/*.def.ts) map flags onto them.
