/**
 * The test files Stryker may run per mutant (`npm run mutation`; scripts/mutation.mjs picks them per module): the
 * fast, in-process ones that exercise src/engine, src/stores and src/config directly from source. Left out:
 * everything that runs the built CLI or dist/ (a mutant in src/ would not reach it), browsers, pseudo-terminals,
 * the Redis fleet of processes, SIGKILL trials and the long fuzz run. No globalSetup: nothing here needs dist/.
 *
 * Stryker's vitest runner forces `pool: "threads"` (one worker), whatever is set here: a test that needs a process
 * of its own (process.umask()) skips itself in a worker thread.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "test/engine/*.test.ts",
      "test/stores/file.test.ts",
      "test/stores/file-durability.test.ts",
      "test/stores/record.test.ts",
      "test/stores/mutex.test.ts",
      "test/stores/filelock.test.ts",
      "test/stores/filelock-holders.test.ts",
      "test/stores/filelock-races.test.ts",
      "test/stores/file-fastpath.test.ts",
      "test/stores/file-writers.test.ts",
      "test/stores/file-recovery.test.ts",
      "test/stores/contract.test.ts",
      "test/stores/file-names.test.ts",
      "test/stores/memory-store.test.ts",
      // Real redis-servers started by the test itself (redis-server from scripts/system-deps.sh).
      "test/stores/redis.test.ts",
      "test/stores/redis-url.test.ts",
      "test/stores/redis-records.test.ts",
      "test/stores/redis-locking.test.ts",
      "test/stores/redis-connect.test.ts",
      "test/stores/redis-holder.test.ts",
      "test/stores/redis-clients.test.ts",
      "test/security/echo.test.ts",
      // The loopback authorizer and the browser helpers, driven by fetch in place of a browser (no chromium).
      "test/login/authorizer.test.ts",
      "test/login/browser-import.test.ts",
      "test/login/listener.test.ts",
      "test/login/import.test.ts",
      "test/login/progress.test.ts",
      "test/login/browser-commands.test.ts",
      "test/fuzz/regressions.test.ts",
      "test/cli/config.test.ts",
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
