// Cooldown on a maven proxy's metadata: versions with an active block are taken out of
// g/a/maven-metadata.xml, and latest/release move back to the newest version left. (The artifact
// files themselves are gated by the kit, by the identity `layout.describe` gives them.)
import type { FormatRequest } from "../kit/contract.js";

/** `g/r/o/u/p/artifact/maven-metadata.xml` → `g.r.o.u.p:artifact`, or null for other keys. */
function metadataPackage(key: string): string | null {
  const seg = key.split("/");
  if (seg.length < 3 || seg[seg.length - 1] !== "maven-metadata.xml") return null;
  return `${seg.slice(0, -2).join(".")}:${seg[seg.length - 2]}`;
}

/** The document without the `blocked` versions (latest/release moved to the last version kept, or dropped). */
export function withoutVersions(xml: string, blocked: Set<string>): string {
  const kept: string[] = [];
  let text = xml.replace(/<versions>([\s\S]*?)<\/versions>/, (_m, inner: string) => {
    const out = inner.replace(/\s*<version>\s*([^<]*?)\s*<\/version>/g, (whole: string, v: string) => {
      if (blocked.has(v)) return "";
      kept.push(v);
      return whole;
    });
    return `<versions>${out}</versions>`;
  });
  const last = kept[kept.length - 1];
  for (const tag of ["latest", "release"]) {
    text = text.replace(new RegExp(`<${tag}>\\s*([^<]*?)\\s*</${tag}>`), (whole, v: string) =>
      blocked.has(v) ? (last ? `<${tag}>${last}</${tag}>` : "") : whole,
    );
  }
  return text;
}

/** The kit's `proxy.filterCooldown` (called when cooldown is enabled): null when nothing is blocked. */
export async function cooldownMetadata(key: string, doc: Buffer, req: FormatRequest): Promise<Buffer | null> {
  const name = metadataPackage(key);
  if (!name) return null;
  const blocked = new Set((await req.services.cooldown.activeBlocks([req.repo.name], name)).map((b) => b.version));
  if (!blocked.size) return null;
  return Buffer.from(withoutVersions(doc.toString("utf8"), blocked));
}
