/**
 * Per-attempt secrets of a browser login: `state` (CSRF protection, RFC 9700 §2.1) and the PKCE pair (RFC 7636).
 * Randomness comes from the injected runtime so tests can pin it; the comparison is constant-time.
 */
import { createHash, timingSafeEqual } from "node:crypto";

export type RandomBytes = (size: number) => Uint8Array;

/** 32 bytes = 256 bits; RFC 9700 asks for at least 128. */
export const STATE_BYTES = 32;

export function newState(randomBytes: RandomBytes): string {
  return Buffer.from(randomBytes(STATE_BYTES)).toString("base64url");
}

export interface PkcePair {
  codeVerifier: string;
  codeChallenge: string;
}

/** S256 only: `plain` offers nothing over no PKCE at all. 32 random bytes → a 43-character verifier. */
export function newPkcePair(randomBytes: RandomBytes): PkcePair {
  const codeVerifier = Buffer.from(randomBytes(32)).toString("base64url");
  const codeChallenge = createHash("sha256").update(codeVerifier, "ascii").digest("base64url");
  return { codeVerifier, codeChallenge };
}

/**
 * Compares a received state with the expected one without leaking, through timing, how much of it matched.
 * Both sides are hashed first so the lengths are equal (timingSafeEqual throws on unequal lengths, and an early
 * length check would itself leak the length).
 */
export function stateMatches(expected: string, received: string | null | undefined): boolean {
  if (typeof received !== "string" || received.length === 0) return false;
  const a = createHash("sha256").update(expected, "utf8").digest();
  const b = createHash("sha256").update(received, "utf8").digest();
  return timingSafeEqual(a, b);
}

/**
 * A state that can be used once: the first matching callback consumes it, and any later one (a replayed or
 * reloaded callback) is refused like a forged one.
 */
export class SingleUseState {
  readonly value: string;
  #used = false;

  constructor(value: string) {
    this.value = value;
  }

  get used(): boolean {
    return this.#used;
  }

  /** Whether `received` matches and the state was still unused; consumes it if so. */
  consume(received: string | null | undefined): boolean {
    const ok = stateMatches(this.value, received);
    if (!ok || this.#used) return false;
    this.#used = true;
    return true;
  }

  /** A match without consuming it (to tell "already used" from "forged" in messages). */
  matches(received: string | null | undefined): boolean {
    return stateMatches(this.value, received);
  }
}
