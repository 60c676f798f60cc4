// Masking of secret values in settings and storage configs: "abcdefyz" -> "ab***yz".
const SECRET_KEY = /(secret|password|passwd|token|credential|private|access[-_]?key|api[-_]?key|client[-_]?secret)/i;

export function maskValue(v: string): string {
  if (v.length <= 4) return "***";
  return `${v.slice(0, 2)}***${v.slice(-2)}`;
}

/** Deep copy with every string under a secret-looking key masked. */
export function maskSecrets(value: unknown, secret = false): unknown {
  if (typeof value === "string") return secret && value.length > 0 ? maskValue(value) : value;
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, secret));
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = k === "type" ? v : maskSecrets(v, secret || SECRET_KEY.test(k));
    return out;
  }
  return value;
}
