// Types for scripts/trials.mjs (the SIGKILL trial runner), for the test that runs a short version of it.
export interface TrialKill {
  lane: number;
  provider: string;
  delayMs: number;
  phase: "clean" | "persisted" | "temp" | "memory" | "wire";
  outcome: string;
  corrupt?: string;
  recovered: boolean;
  loginsBurned: number;
  nextTokenMs: number;
  unexpected: boolean;
  lostCode?: string;
  lockLeft: string;
  lockWaitMs: number;
}
export interface TrialReport {
  commit: string;
  kills: number;
  seed: number;
  lanes: number;
  maxDelayMs: number;
  seconds: number;
  byProvider: Record<string, { kills: number; refreshed: number; recovered: number; lost: number }>;
  phases: Partial<Record<TrialKill["phase"], number>>;
  corruptStores: number;
  grantsLostWithAnswerOnDisk: number;
  grantsLostOnWire: number;
  grantsLostInMemory: number;
  recoveredFromTemp: number;
  refreshed: number;
  loginsBurned: number;
  unexpected: TrialKill[];
  lostCodes: string[];
  nextTokenMs: { p50: number; p95: number; max: number };
  childGetTokenMs: { p50: number; p95: number; max: number };
  waitsOver3s: number;
  lockLeft: Record<string, number>;
  lockWaitMs: { p50: number; p95: number; max: number };
  lockWaitsOver3s: number;
  lostExample?: string;
}
export function runTrials(options?: {
  kills?: number;
  seed?: number;
  lanes?: number;
  providers?: string[];
  maxDelayMs?: number;
  log?: (kill: TrialKill, n: number, total: number) => void;
}): Promise<TrialReport>;
