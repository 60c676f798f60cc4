// Packuments as bytes and as objects. The kit hands metadata around as bytes (a proxy's
// cooldown-filtered copy, a group's merge); the documents this node made itself are remembered
// with their object, so a packument is not parsed again right after it was serialised.
import type { Packument } from "./packument.js";

export class PackumentDocuments {
  private readonly made = new WeakMap<Buffer, Packument>();

  /** The bytes of `p`, remembered with it. */
  encode(p: Packument): Buffer {
    const bytes = Buffer.from(JSON.stringify(p));
    this.made.set(bytes, p);
    return bytes;
  }

  /** The packument in `bytes`; null when they are not a JSON object (treated as absent, as a damaged file). */
  decode(bytes: Buffer): Packument | null {
    const known = this.made.get(bytes);
    if (known) return known;
    try {
      const doc: unknown = JSON.parse(bytes.toString("utf8"));
      return doc && typeof doc === "object" && !Array.isArray(doc) ? (doc as Packument) : null;
    } catch {
      return null;
    }
  }
}
