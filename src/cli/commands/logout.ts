/**
 * `hpauth logout`: deletes stored tokens (the profile's, or with --all every credential in the store), and says
 * truthfully whether there was anything to delete.
 *
 * A provider with a login budget (Aruba Central: one new login per client id per 30 minutes) is guarded: deleting
 * its refresh token means the next token needs a login, which the budget may refuse for up to 30 minutes (and an
 * SSO/MFA account can only get back with `login --import`). So such a logout needs `--yes` (or `--force`): on a
 * terminal hpauth warns and asks; without one (scripts, pipes, --json) it refuses with a usage error naming the flag.
 * The login-budget records themselves are never deleted (they describe the client id, not a credential).
 */
import { createInterface } from "node:readline/promises";
import { HpauthError, isHpauthError } from "../../engine/errors.js";
import { getProvider } from "../../engine/providers/index.js";
import type { ProviderId } from "../../engine/types.js";
import type { TokenRecord, TokenStore } from "../../stores/types.js";
import { loadCliConfig, makeManager, openStore, resolveCliProfile } from "../context.js";
import type { CommandIO } from "../io.js";
import type { LogoutOptions } from "../options.js";
import { formatWhen } from "../time.js";

/** The record under `key`; a damaged one counts as stored (deleting it is what the user may want). */
async function peek(store: TokenStore, key: string): Promise<TokenRecord | "unreadable" | undefined> {
  try {
    return await store.get(key);
  } catch (e) {
    if (isHpauthError(e) && e.code === "STORE_ERROR") return "unreadable";
    throw e;
  }
}

const holdsTokens = (r: TokenRecord | "unreadable" | undefined) =>
  r === "unreadable" || (r !== undefined && (r.accessToken !== undefined || r.refreshToken !== undefined));

/** The login-budget window of a record's provider when the record holds a refresh token (else undefined). */
function budgetAtRisk(r: TokenRecord | "unreadable" | undefined): { title: string; seconds: number } | undefined {
  if (!r || r === "unreadable" || !r.refreshToken) return undefined;
  const def = getProvider(r.provider as ProviderId) as ReturnType<typeof getProvider> | undefined;
  return def?.loginBudget ? { title: def.title, seconds: def.loginBudget.windowSeconds } : undefined;
}

/** Asks on the terminal; resolves true for y/yes. */
async function confirm(io: CommandIO, question: string): Promise<boolean> {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
  try {
    const answer = await rl.question(question, { signal: io.signal });
    return /^y(es)?$/i.test(answer.trim());
  } catch (e) {
    if (io.signal.aborted) throw new HpauthError("CANCELLED", "Cancelled", { cause: e });
    return false; // stdin closed: no
  } finally {
    rl.close();
  }
}

/** Goes ahead only with --yes, or a "y" typed at the terminal; otherwise throws (nothing deleted). */
async function guard(options: LogoutOptions, io: CommandIO, what: string, consequence: string): Promise<void> {
  if (options.yes) return;
  const interactive = io.stdinIsTTY && !options.json;
  if (!interactive) {
    throw new HpauthError("USAGE", `Refusing to log out ${what} without --yes: ${consequence}`, {
      hint: "Nothing was deleted. Rerun with --yes (or --force) to delete it anyway.",
    });
  }
  io.stderr.write(`Warning: ${consequence}\n`);
  if (!(await confirm(io, `Log out ${what} anyway? [y/N] `))) {
    throw new HpauthError("CANCELLED", "Not logged out: nothing was deleted", {
      hint: "Use --yes (or --force) to skip this question.",
    });
  }
}

function consequenceOf(budget: { title: string; seconds: number }, next?: Date): string {
  const when = next && next.getTime() > Date.now() ? `the next is allowed at ${formatWhen(next)}` : "";
  return `this deletes its refresh token, so its next token needs a new login, and ${budget.title} allows one login per client id per ${Math.round(budget.seconds / 60)} minutes${when ? ` (${when})` : ""}; an SSO/MFA account can only get back in with \`hpauth login --import\`.`;
}

export async function runLogout(options: LogoutOptions, io: CommandIO): Promise<number> {
  // The config may name the store (`store = "redis://…"`).
  const config = await loadCliConfig(options, io);
  const store = openStore(options, io, undefined, config);
  try {
    if (options.all) {
      const found: { key: string; record: TokenRecord | "unreadable" | undefined }[] = [];
      for (const key of await store.list()) found.push({ key, record: await peek(store, key) });
      const credentials = found.filter((f) => holdsTokens(f.record));
      const guarded = credentials.filter((f) => budgetAtRisk(f.record));
      if (guarded.length > 0) {
        const budget = budgetAtRisk(guarded[0]!.record)!;
        await guard(
          options,
          io,
          `every profile (${guarded.length} with a ${budget.title} refresh token)`,
          consequenceOf(budget),
        );
      }
      for (const { key } of credentials) {
        await store.withLock(key, () => store.delete(key), { signal: io.signal });
      }
      if (options.json) io.stdout.write(`${JSON.stringify({ deleted: credentials.length })}\n`);
      else if (!options.quiet) {
        io.stderr.write(
          credentials.length === 0
            ? `Nothing to delete: no stored credentials in the ${store.kind} store.\n`
            : `Deleted ${credentials.length} stored credential${credentials.length === 1 ? "" : "s"}.\n`,
        );
      }
      return 0;
    }
    const { profile } = await resolveCliProfile(options, io, config);
    const manager = makeManager(options, io, profile, store);
    const record = await peek(store, manager.key);
    if (!holdsTokens(record)) {
      if (options.json) io.stdout.write(`${JSON.stringify({ profile: profile.name, deleted: false })}\n`);
      else if (!options.quiet) io.stderr.write(`Nothing to delete: no stored tokens for profile "${profile.name}".\n`);
      return 0;
    }
    const budget = budgetAtRisk(record);
    if (budget) {
      const next = (await manager.status()).nextLoginAllowedAt;
      await guard(options, io, `of profile "${profile.name}"`, consequenceOf(budget, next));
    }
    await manager.logout();
    if (options.json) io.stdout.write(`${JSON.stringify({ profile: profile.name, deleted: true })}\n`);
    else if (!options.quiet) io.stderr.write(`Logged out of profile "${profile.name}" (stored tokens deleted).\n`);
    return 0;
  } finally {
    await store.close?.();
  }
}
