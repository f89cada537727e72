/**
 * `hpauth token --format <f>`: the token in the shape of the tool it is named after, so no jq glue sits between
 * hpauth and kubectl, Bazel, az-style consumers or a shell. Each shape follows that tool's own definition (cited on
 * each function); test/cli/token-formats.test.ts feeds every one to a parser of that format (a JSON Schema validator,
 * a real kubectl, a real bash), not to a string comparison. Pure functions of an AccessToken and the clock.
 */
import { rfc3339 } from "../engine/dates.js";
import { HpauthError } from "../engine/errors.js";
import type { AccessToken } from "../engine/types.js";

/** `bearer`, `Bearer`, `BEARER` → `Bearer` (RFC 6750's spelling, what an Authorization header carries). */
function scheme(token: AccessToken): string {
  return /^bearer$/i.test(token.tokenType) ? "Bearer" : token.tokenType;
}

/**
 * The engine takes any non-empty access_token string a server sends; one with CR, LF or NUL cannot travel in an HTTP
 * header (and would add a header line, or a key=value line for git): refused, rather than printed.
 */
export function assertHeaderSafe(token: AccessToken): void {
  if (/[\r\n\0]/.test(token.accessToken)) {
    throw new HpauthError(
      "INVALID_RESPONSE",
      "The access token holds a line break or NUL, which no HTTP header can carry; not printing it",
      {
        hint: "The identity service sent a malformed token: try again later, or report it to the service's owner.",
        provider: token.provider,
        profile: token.profile,
      },
    );
  }
}

/** `Authorization: Bearer …`, as `hpauth header` prints it. */
export function headerLine(token: AccessToken): string {
  assertHeaderSafe(token);
  return `Authorization: ${scheme(token)} ${token.accessToken}`;
}

/** Local wall-clock time `YYYY-MM-DD HH:MM:SS.ffffff`, as Python's `datetime.fromtimestamp(t).strftime(…%f)`. */
function localPythonDateTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return (
    `${p(d.getFullYear(), 4)}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds() * 1000, 6)}`
  );
}

/**
 * `az account get-access-token`: `accessToken`, `expiresOn` (local time, `YYYY-MM-DD HH:MM:SS.ffffff`, no zone),
 * `expires_on` (POSIX seconds, since Azure CLI 2.54) and `tokenType`, printed as az prints JSON (keys sorted, two
 * spaces). az's `subscription` and `tenant` have no HPE equivalent and are left out; the Azure SDKs'
 * AzureCliCredential reads only `accessToken` and `expires_on` (or `expiresOn`).
 */
export function azJson(token: AccessToken): string {
  const ms = token.expiresAt.getTime();
  const body = {
    accessToken: token.accessToken,
    expiresOn: localPythonDateTime(ms),
    expires_on: Math.floor(ms / 1000),
    tokenType: scheme(token),
  };
  return JSON.stringify(body, null, 2);
}

/** The apiVersions of `client.authentication.k8s.io` whose ExecCredential has `status.token` (v1alpha1 is gone). */
const EXEC_API_VERSIONS = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];

/**
 * The ExecCredential apiVersion to answer with. kubectl (and client-go) pass the request in KUBERNETES_EXEC_INFO,
 * an ExecCredential whose apiVersion is the one the kubeconfig's `exec.apiVersion` names, and refuse an answer of
 * another version: so answer in the version asked for (v1 or v1beta1), and v1 when run by hand.
 */
export function execCredentialRequest(env: Readonly<Record<string, string | undefined>>): {
  apiVersion: string;
  interactive?: boolean;
} {
  const info = env.KUBERNETES_EXEC_INFO;
  if (!info) return { apiVersion: EXEC_API_VERSIONS[0] as string };
  let parsed: unknown;
  try {
    parsed = JSON.parse(info);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new HpauthError("USAGE", "KUBERNETES_EXEC_INFO is not an ExecCredential (a JSON object)", {
      hint: "It is set by kubectl for its exec credential plugins; unset it when running hpauth by hand.",
    });
  }
  const request = parsed as { apiVersion?: unknown; spec?: unknown };
  const apiVersion = typeof request.apiVersion === "string" ? request.apiVersion : EXEC_API_VERSIONS[0];
  if (!EXEC_API_VERSIONS.includes(apiVersion as string)) {
    throw new HpauthError("USAGE", `ExecCredential apiVersion "${apiVersion}" is not supported`, {
      hint: `Set users[].user.exec.apiVersion in the kubeconfig to ${EXEC_API_VERSIONS.join(" or ")}.`,
    });
  }
  const spec = request.spec;
  const interactive =
    typeof spec === "object" && spec !== null ? (spec as { interactive?: unknown }).interactive : undefined;
  return { apiVersion: apiVersion as string, ...(typeof interactive === "boolean" ? { interactive } : {}) };
}

/**
 * A Kubernetes ExecCredential (`client.authentication.k8s.io/v1`, k8s.io/client-go/pkg/apis/clientauthentication):
 * `status.token` and `status.expirationTimestamp` (RFC 3339), after which kubectl asks again.
 */
export function execCredentialJson(token: AccessToken, apiVersion = EXEC_API_VERSIONS[0] as string): string {
  return JSON.stringify({
    apiVersion,
    kind: "ExecCredential",
    status: {
      token: token.accessToken,
      ...(rfc3339(token.expiresAt) ? { expirationTimestamp: rfc3339(token.expiresAt) } : {}),
    },
  });
}

/**
 * Bazel's credential helper answer (the EngFlow credential-helper spec, GetCredentialsResponse): headers, each a list
 * of values, and `expires` (RFC 3339; Bazel parses it with java.time.Instant.parse, so UTC with a `Z`), until which
 * Bazel reuses the headers.
 */
export function bazelJson(token: AccessToken): string {
  assertHeaderSafe(token);
  const expires = rfc3339(token.expiresAt);
  return JSON.stringify({
    headers: { Authorization: [`${scheme(token)} ${token.accessToken}`] },
    ...(expires ? { expires } : {}),
  });
}

/**
 * Single-quotes a value for a POSIX shell: inside '…' every byte is literal except `'` itself, written as `'\''`.
 * Hand-rolled: this one rule is the whole of it, and a dependency for it would weigh more than the rule.
 */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `export VAR='…'` lines for `eval "$(hpauth token --format env)"` in sh, bash, zsh or ksh: the variables
 * `hpauth exec` sets (the token in `name`, default HPAUTH_TOKEN, and HPAUTH_TOKEN_EXPIRES_AT).
 */
export function envLines(token: AccessToken, name = "HPAUTH_TOKEN"): string {
  if (!ENV_NAME.test(name)) throw new HpauthError("USAGE", `--env ${name}: not an environment variable name`);
  const lines = [`export ${name}=${shellQuote(token.accessToken)}`];
  const expires = rfc3339(token.expiresAt);
  if (expires) lines.push(`export HPAUTH_TOKEN_EXPIRES_AT=${shellQuote(expires)}`);
  return lines.join("\n");
}

/**
 * Bazel runs a credential helper as `<helper> get` with `{"uri": "…"}` on stdin (the spec's GetCredentialsRequest).
 * The request is read and checked (a helper SHOULD refuse input it does not understand); which profile answers is
 * the helper script's `-p`, and which hosts reach it is Bazel's `--credential_helper=<host>=…`.
 */
export function parseBazelRequest(text: string): { uri: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const uri = (parsed as { uri?: unknown } | undefined)?.uri;
  if (typeof uri !== "string" || !URL.canParse(uri)) {
    throw new HpauthError("USAGE", 'hpauth token --format bazel get: stdin must be a JSON object {"uri": "<url>"}', {
      hint: "Bazel writes that request itself; by hand, run `hpauth token --format bazel` without `get`.",
    });
  }
  return { uri };
}
