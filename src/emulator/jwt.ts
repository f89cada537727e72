/** RS256 signing keys of the JWT-issuing services (one key pair each, fresh per start) and their JWKS. */
import { exportJWK, generateKeyPair, type JWK, jwtVerify, SignJWT } from "jose";
import { opaque } from "./state.js";

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

export interface SigningKey {
  kid: string;
  pair: KeyPair;
  jwk: JWK;
}

export async function newSigningKey(): Promise<SigningKey> {
  const pair = await generateKeyPair("RS256");
  const kid = opaque(27);
  const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg: "RS256", use: "sig" };
  return { kid, pair, jwk };
}

export async function signJwt(
  key: SigningKey,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  // `alg` first, like the services' own headers: their tokens start `eyJhbGci` ("eyJh" is what WXP documents).
  return new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: key.kid, ...header }).sign(key.pair.privateKey);
}

/** Signature only: expiry is judged on the emulator's clock by the caller, not on the wall clock. */
export async function verifiesWith(key: SigningKey, token: string): Promise<boolean> {
  try {
    await jwtVerify(token, key.pair.publicKey, { algorithms: ["RS256"], currentDate: new Date(0) });
    return true;
  } catch {
    return false;
  }
}

export function jwks(...keys: SigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.jwk) };
}
