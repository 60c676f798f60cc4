// A client for an upstream OCI registry (docker-proxy remotes), with the Bearer-token and Basic flows.
import { Readable } from "node:stream";
import type { RemoteConfig } from "../../repositories/types.js";
import { MANIFEST_TYPES } from "./manifest.js";
import { parseChallenge } from "./protocol.js";
import { fetchGuarded, originOf } from "../upstream-redirects.js";

export class UpstreamError extends Error {}

export class UpstreamRegistry {
  readonly base: string;
  private tokens = new Map<string, { token: string; until: number }>();
  private timeoutMs: number;

  constructor(private remote: RemoteConfig) {
    this.base = remote.url.replace(/\/+$/, "").replace(/\/v2$/, "");
    this.timeoutMs = typeof remote.timeout_ms === "number" ? remote.timeout_ms : 30_000;
  }

  private basic(): string | undefined {
    if (!this.remote.username) return undefined;
    return "Basic " + Buffer.from(`${this.remote.username}:${this.remote.password ?? ""}`).toString("base64");
  }

  private async token(challenge: Record<string, string>, scope: string): Promise<string | undefined> {
    const key = `${challenge.realm}|${challenge.service ?? ""}|${scope}`;
    const hit = this.tokens.get(key);
    if (hit && hit.until > Date.now()) return hit.token;
    if (!challenge.realm) return undefined;
    const url = new URL(challenge.realm);
    if (challenge.service) url.searchParams.set("service", challenge.service);
    url.searchParams.set("scope", scope);
    const headers: Record<string, string> = {};
    const basic = this.basic();
    if (basic) headers.authorization = basic;
    // The realm is the token service named by the registry's challenge: the credentials are meant for it.
    const res = await fetchGuarded(url, { method: "GET", headers: {}, credentials: headers, origin: url.origin, signal: AbortSignal.timeout(this.timeoutMs) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.token ?? body.access_token;
    if (!token) return undefined;
    this.tokens.set(key, { token, until: Date.now() + Math.max(30, (body.expires_in ?? 60) - 10) * 1000 });
    return token;
  }

  /** One request to `/v2/<path>`; follows one auth challenge. Throws UpstreamError when unreachable. */
  async request(method: "GET" | "HEAD", path: string, image: string, headers: Record<string, string> = {}): Promise<Response> {
    const url = `${this.base}/v2/${path}`;
    const scope = `repository:${image}:pull`;
    const send = async (auth?: string) => {
      try {
        // Blob GETs are often redirected to a CDN or object store: the token stays with the registry.
        return await fetchGuarded(new URL(url), {
          method,
          headers,
          credentials: auth ? { authorization: auth } : {},
          origin: originOf(this.base),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (err) {
        throw new UpstreamError(`upstream ${this.base} unreachable: ${(err as Error).message}`);
      }
    };
    const cached = [...this.tokens.entries()].find(([k, v]) => k.endsWith("|" + scope) && v.until > Date.now());
    // No credentials up front: the upstream's challenge says which scheme it wants (docker clients do the same).
    let res = await send(cached ? `Bearer ${cached[1].token}` : undefined);
    if (res.status === 401) {
      const ch = parseChallenge(res.headers.get("www-authenticate"));
      await res.body?.cancel();
      if (ch?.scheme === "bearer") {
        const token = await this.token(ch.params, scope).catch(() => undefined);
        if (token) res = await send(`Bearer ${token}`);
      } else if (ch?.scheme === "basic" && this.basic()) res = await send(this.basic());
    }
    return res;
  }

  async manifest(image: string, reference: string): Promise<{ body: Buffer; mediaType: string; digest?: string; lastModified?: Date } | null> {
    const res = await this.request("GET", `${image}/manifests/${reference}`, image, { accept: MANIFEST_TYPES.join(", ") });
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new UpstreamError(`upstream answered ${res.status} for manifest ${image}:${reference}`);
    }
    const body = Buffer.from(await res.arrayBuffer());
    const lm = res.headers.get("last-modified");
    return {
      body,
      mediaType: (res.headers.get("content-type") ?? "").split(";")[0].trim(),
      digest: res.headers.get("docker-content-digest") ?? undefined,
      lastModified: lm ? new Date(lm) : undefined,
    };
  }

  async blob(image: string, digest: string): Promise<{ stream: Readable; size?: number } | null> {
    const res = await this.request("GET", `${image}/blobs/${digest}`, image);
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new UpstreamError(`upstream answered ${res.status} for blob ${digest}`);
    }
    const len = res.headers.get("content-length");
    return { stream: Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), size: len ? Number(len) : undefined };
  }

  async blobSize(image: string, digest: string): Promise<number | null> {
    const res = await this.request("HEAD", `${image}/blobs/${digest}`, image);
    if (!res.ok) return null;
    return Number(res.headers.get("content-length") ?? 0);
  }

  async tags(image: string): Promise<string[] | null> {
    const res = await this.request("GET", `${image}/tags/list`, image);
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new UpstreamError(`upstream answered ${res.status} for tags of ${image}`);
    }
    const body = (await res.json()) as { tags?: string[] | null };
    return body.tags ?? [];
  }

  async referrers(image: string, digest: string): Promise<unknown[]> {
    const res = await this.request("GET", `${image}/referrers/${digest}`, image, { accept: "application/vnd.oci.image.index.v1+json" });
    if (!res.ok) {
      await res.body?.cancel();
      return [];
    }
    const body = (await res.json()) as { manifests?: unknown[] };
    return Array.isArray(body.manifests) ? body.manifests : [];
  }
}
