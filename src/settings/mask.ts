// Masking of secret values in settings, storage and repository configs: "abcdefyz" -> "ab***yz".
import { badRequest } from "../errors.js";
import { isObject } from "../json.js";

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

/** How `maskSecrets` renders a secret: at most two characters either side of "***". */
const MASKED = /^.{0,2}\*\*\*.{0,2}$/s;

/**
 * A config about to be saved, with every masked secret that came back unchanged ("ab***yz", as
 * `maskSecrets` showed it) replaced by the stored value, so a client can PUT back what it read.
 * Array elements pair by position, but objects with a `url` (proxy remotes) only with a stored
 * element of the same url: a secret is never carried over to another host. A masked value with
 * no stored counterpart is a 400, so the mask itself is never saved as the secret.
 */
export function restoreMasked(incoming: unknown, stored: unknown, label: string, secret = false): unknown {
  if (typeof incoming === "string") {
    if (!secret || !MASKED.test(incoming)) return incoming;
    if (typeof stored === "string" && maskValue(stored) === incoming) return stored;
    throw badRequest(`'${label}' is a masked value that does not match the stored secret; send the real value`);
  }
  if (Array.isArray(incoming)) {
    const old = Array.isArray(stored) ? stored : [];
    return incoming.map((v, i) => restoreMasked(v, counterpart(v, old, i), `${label}[${i}]`, secret));
  }
  if (isObject(incoming)) {
    const old = isObject(stored) ? stored : {};
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(incoming)) {
      out[k] = k === "type" ? v : restoreMasked(v, old[k], `${label}.${k}`, secret || SECRET_KEY.test(k));
    }
    return out;
  }
  return incoming;
}

function counterpart(value: unknown, stored: unknown[], i: number): unknown {
  const url = isObject(value) ? value.url : undefined;
  if (typeof url !== "string") return stored[i];
  const sameUrl = (s: unknown) => isObject(s) && s.url === url;
  return sameUrl(stored[i]) ? stored[i] : stored.find(sameUrl);
}
