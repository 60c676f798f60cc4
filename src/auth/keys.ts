// Signing keys live in the database so every node signs and verifies with the same
// keys and tokens survive restarts. The oldest active RSA key signs; all verify.
import { randomBytes, randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from "jose";
import type { PrismaClient } from "../db/index.js";

interface LoadedKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

export class KeyStore {
  private keys = new Map<string, LoadedKey>();
  private signer?: LoadedKey;
  /** Secret for HMAC download tokens and credential caches; shared by all nodes. */
  hmacSecret!: Buffer;

  constructor(private prisma: PrismaClient) {}

  async init(): Promise<void> {
    let rows = await this.prisma.signingKey.findMany({ where: { kind: "rsa", active: true }, orderBy: [{ createdAt: "asc" }, { kid: "asc" }] });
    if (rows.length === 0) {
      const { privateKey, publicKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
      const kid = randomUUID();
      await this.prisma.signingKey.create({
        data: { kid, kind: "rsa", privateJwk: (await exportJWK(privateKey)) as object, publicJwk: (await exportJWK(publicKey)) as object },
      });
      // Another node may have raced us; everyone re-reads and signs with the oldest key.
      rows = await this.prisma.signingKey.findMany({ where: { kind: "rsa", active: true }, orderBy: [{ createdAt: "asc" }, { kid: "asc" }] });
    }
    for (const row of rows) await this.load(row.kid, row.privateJwk as JWK, row.publicJwk as JWK);
    this.signer = this.keys.get(rows[0].kid);

    let hmac = await this.prisma.signingKey.findFirst({ where: { kind: "hmac" }, orderBy: { createdAt: "asc" } });
    if (!hmac) {
      await this.prisma.signingKey.create({
        data: { kid: "hmac-" + randomUUID(), kind: "hmac", privateJwk: { k: randomBytes(32).toString("base64url") }, publicJwk: {} },
      });
      hmac = await this.prisma.signingKey.findFirst({ where: { kind: "hmac" }, orderBy: { createdAt: "asc" } });
    }
    this.hmacSecret = Buffer.from((hmac!.privateJwk as { k: string }).k, "base64url");
  }

  private async load(kid: string, priv: JWK, pub: JWK) {
    this.keys.set(kid, {
      kid,
      privateKey: (await importJWK(priv, "RS256")) as CryptoKey,
      publicKey: (await importJWK(pub, "RS256")) as CryptoKey,
    });
  }

  signingKey(): LoadedKey {
    if (!this.signer) throw new Error("KeyStore not initialised");
    return this.signer;
  }

  /** Public key for a kid, reloading from the database when another node added one. */
  async publicKey(kid: string | undefined): Promise<CryptoKey | undefined> {
    if (!kid) return undefined;
    let key = this.keys.get(kid);
    if (!key) {
      const row = await this.prisma.signingKey.findUnique({ where: { kid } });
      if (row && row.kind === "rsa" && row.active) {
        await this.load(row.kid, row.privateJwk as JWK, row.publicJwk as JWK);
        key = this.keys.get(kid);
      }
    }
    return key?.publicKey;
  }
}
