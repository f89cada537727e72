/**
 * Builds dist/ once per test run, so tests that use the package's entry points or the built binary never see a
 * stale build. `npm run test:full` has just built and sets HPAUTH_TEST_SKIP_BUILD=1.
 */
import { execFileSync } from "node:child_process";

export default function setup(): void {
  if (process.env.HPAUTH_TEST_SKIP_BUILD === "1") return;
  execFileSync(process.execPath, ["scripts/build.mjs"], {
    cwd: new URL("../", import.meta.url).pathname,
    stdio: "inherit",
  });
}
