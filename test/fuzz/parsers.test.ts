/**
 * The fuzz harness's short, seeded run in the suite: a few hundred cases per parser that takes outside input
 * (targets in ./targets.ts). The long run is `npm run fuzz` (≥ 100 000 cases; BENCHMARKS.md). A failure prints
 * fast-check's shrunk counterexample and the seed to replay it.
 */
import fc from "fast-check";
import { afterAll, describe, it } from "vitest";
import { TARGETS } from "./targets.js";

const SEED = Number(process.env.HPAUTH_FUZZ_SEED ?? 20261201);
const RUNS = Number(process.env.HPAUTH_FUZZ_RUNS ?? 300);

describe("fuzz: no outside input crashes a parser", () => {
  afterAll(() => {
    for (const t of TARGETS) t.teardown?.();
  });
  for (const target of TARGETS) {
    it(target.name, async () => {
      target.setup?.();
      await fc.assert(
        fc.asyncProperty(target.arbitrary, async (input) => {
          await target.run(input);
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: false },
      );
    }, 120_000);
  }
});
