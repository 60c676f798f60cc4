// Password hashing with scrypt (memory-hard, in node:crypto; no native addon to build).
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

const N = 1 << 15; // 32 MiB per hash: ~50-80 ms on one core
const r = 8;
const p = 1;
const KEYLEN = 32;

function scryptAsync(password: string, salt: Buffer, n: number, rr: number, pp: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEYLEN, { N: n, r: rr, p: pp, maxmem: 128 * n * rr * 2 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, N, r, p);
  return `scrypt$${N}$${r}$${p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

/** How many scrypt verifications ran (tests check that every path pays for one). */
export const passwordStats = { verifications: 0 };

// Stands in for a missing hash, so an unknown user costs as much as a wrong password (no password matches it).
const DUMMY_HASH = `scrypt$${N}$${r}$${p}$DdxgQXqHj5b05NtcihP4+A==$oSxUcb03ZWM0fwu60Zcz/mshDbkWfXaPkEkG9557CBo=`;

/**
 * Checks `password` against a stored hash. Without a usable hash (unknown or disabled user, no local
 * password) it still runs one scrypt, against a dummy, and answers false: timing does not tell them apart.
 */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const parts = stored?.split("$") ?? [];
  const usable = parts.length === 6 && parts[0] === "scrypt";
  const [, n, rr, pp, salt, hash] = usable ? parts : DUMMY_HASH.split("$");
  const expected = Buffer.from(hash, "base64");
  passwordStats.verifications++;
  const key = await scryptAsync(password, Buffer.from(salt, "base64"), Number(n), Number(rr), Number(pp));
  return usable && key.length === expected.length && timingSafeEqual(key, expected);
}
