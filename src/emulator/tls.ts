/**
 * Certificates for `startEmulator({ tls })` / `hpauth emulate --tls`: a CA made for this run and one server
 * certificate it signs (ECDSA P-256, SHA-256) for the emulator's host names, so a client can be tested with its
 * CA settings (`ca_file`, NODE_EXTRA_CA_CERTS) and its TLS errors (an unknown CA, another host name, an expired
 * certificate).
 *
 * Hand-written DER on node:crypto, on purpose: the maintained pure-JS generator (@peculiar/x509, which `selfsigned`
 * also builds on now) needs a global `reflect-metadata` polyfill (tsyringe), which an importable emulator must not
 * force on its users' processes; node-forge cannot sign with ECDSA and takes ~0.4 s per RSA signature in JS on
 * this machine; shelling out to openssl needs it on PATH (not on Windows) and Debian 12's OpenSSL 3.0 cannot set a
 * validity in the past without `openssl ca` and its database. What a certificate needs (RFC 5280 §4.1) is a few
 * DER shapes; test/emulator/tls.test.ts has OpenSSL parse and verify the result.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import { isIP } from "node:net";

// ---- DER (X.690) ------------------------------------------------------------------------------------------------

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 | n, inner);

function integer(b: Buffer): Buffer {
  // Unsigned magnitude: a leading 0x00 when the high bit is set (else it would read as negative).
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, (v[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split(".").map(Number);
  const out = [a * 40 + b];
  for (const n of rest) {
    const chunk: number[] = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14); // YYYYMMDDHHMMSS
  const year = d.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, "ascii"))
    : tlv(0x18, Buffer.from(`${iso}Z`, "ascii"));
}

const name = (cn: string) => seq(set(seq(oid("2.5.4.3"), utf8(cn))));
const extension = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split(".").map(Number));
  // IPv6: expand "::" and write eight 16-bit groups.
  const [head = "", tail = ""] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = ip.includes("::") ? (tail ? tail.split(":") : []) : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return Buffer.from(groups.flatMap((g) => [(Number.parseInt(g, 16) >> 8) & 0xff, Number.parseInt(g, 16) & 0xff]));
}

function subjectAltName(hosts: readonly string[]): Buffer {
  const entries = hosts.map((h) => {
    const bare = h.replace(/^\[|\]$/g, "");
    // GeneralName: dNSName [2] IA5String, iPAddress [7] OCTET STRING (implicit tags).
    return isIP(bare) ? tlv(0x87, ipBytes(bare)) : tlv(0x82, Buffer.from(bare, "ascii"));
  });
  return seq(...entries);
}

interface CertSpec {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  signingKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: Buffer[];
}

function certificate(spec: CertSpec): Buffer {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 1) & 0x7f) | 0x01; // positive and never zero
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ECDSA_SHA256,
    name(spec.issuer),
    seq(time(spec.notBefore), time(spec.notAfter)),
    name(spec.subject),
    spec.publicKey.export({ type: "spki", format: "der" }),
    explicit(3, seq(...spec.extensions)),
  );
  // Node's ECDSA signatures are DER (r, s) already, which is what X.509 carries in the BIT STRING.
  const signature = sign("sha256", tbs, spec.signingKey);
  return seq(tbs, ECDSA_SHA256, bits(signature));
}

const pem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE-----\n${der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;

const keyId = (k: KeyObject) =>
  createHash("sha1")
    .update(k.export({ type: "spki", format: "der" }))
    .digest();

export interface TlsMaterial {
  /** The CA certificate (PEM): what a client is told to trust. */
  caPem: string;
  /** The servers' certificate (PEM), signed by the CA. */
  certPem: string;
  /** The servers' private key (PKCS #8 PEM). */
  keyPem: string;
}

export interface TlsMaterialOptions {
  /** DNS names and IP addresses the server certificate is issued for. */
  hosts: readonly string[];
  /** The server certificate's validity (default: from an hour ago, for 30 days). */
  notBefore?: Date;
  notAfter?: Date;
  now?: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function makeTlsMaterial(options: TlsMaterialOptions): TlsMaterial {
  const now = options.now ?? Date.now();
  const ca = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const leaf = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const caId = keyId(ca.publicKey);
  const caDer = certificate({
    subject: "hpauth emulator CA",
    issuer: "hpauth emulator CA",
    publicKey: ca.publicKey,
    signingKey: ca.privateKey,
    // The CA outlives any server certificate made for a test, past or future.
    notBefore: new Date(now - 365 * DAY),
    notAfter: new Date(now + 365 * DAY),
    extensions: [
      extension("2.5.29.19", true, seq(bool(true), integer(Buffer.from([0])))), // basicConstraints CA, pathLen 0
      extension("2.5.29.15", true, bits(Buffer.from([0x06]), 1)), // keyUsage keyCertSign, cRLSign
      extension("2.5.29.14", false, octets(caId)), // subjectKeyIdentifier
    ],
  });
  const leafDer = certificate({
    subject: options.hosts[0] ?? "localhost",
    issuer: "hpauth emulator CA",
    publicKey: leaf.publicKey,
    signingKey: ca.privateKey,
    notBefore: options.notBefore ?? new Date(now - HOUR),
    notAfter: options.notAfter ?? new Date(now + 30 * DAY),
    extensions: [
      extension("2.5.29.19", true, seq()), // basicConstraints: not a CA
      extension("2.5.29.15", true, bits(Buffer.from([0x80]), 7)), // keyUsage digitalSignature
      extension("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1"))), // extKeyUsage serverAuth
      extension("2.5.29.17", false, subjectAltName(options.hosts)),
      extension("2.5.29.14", false, octets(keyId(leaf.publicKey))),
      extension("2.5.29.35", false, seq(tlv(0x80, caId))), // authorityKeyIdentifier keyIdentifier [0]
    ],
  });
  return {
    caPem: pem(caDer),
    certPem: pem(leafDer),
    keyPem: leaf.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  };
}
