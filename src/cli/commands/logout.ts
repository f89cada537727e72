/** `hpauth logout`: deletes stored tokens (the profile's, or every record in the store with --all). */
import { loadCliConfig, makeManager, openStore, resolveCliProfile } from "../context.js";
import type { CommandIO } from "../io.js";
import type { LogoutOptions } from "../options.js";

export async function runLogout(options: LogoutOptions, io: CommandIO): Promise<number> {
  // The config may name the store (`store = "redis://…"`).
  const config = await loadCliConfig(options, io);
  const store = openStore(options, io, undefined, config);
  try {
    if (options.all) {
      const keys = await store.list();
      for (const key of keys) await store.withLock(key, () => store.delete(key), { signal: io.signal });
      if (options.json) io.stdout.write(`${JSON.stringify({ deleted: keys.length })}\n`);
      else if (!options.quiet) io.stderr.write(`Deleted ${keys.length} stored credential(s).\n`);
      return 0;
    }
    const { profile } = await resolveCliProfile(options, io, config);
    const manager = makeManager(options, io, profile, store);
    await manager.logout();
    if (options.json) io.stdout.write(`${JSON.stringify({ profile: profile.name, deleted: true })}\n`);
    else if (!options.quiet) io.stderr.write(`Logged out of profile "${profile.name}" (stored tokens deleted).\n`);
    return 0;
  } finally {
    await store.close?.();
  }
}
