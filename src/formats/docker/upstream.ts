// A client for an upstream OCI registry (docker-proxy remotes), with the Bearer-token and Basic
// flows. Every request goes through the kit's upstream client, so the http_client settings
// (timeouts, idle timeout, per-destination limits, follow_redirects) apply as for every other
// proxy, and credentials reach only the origin they belong to (blob redirects to a CDN get none).
// Failures are the kit's UpstreamErrors: 502 (unreachable, bad answer) or 504 (too slow).
import type { Readable } from "node:stream";
import type { RemoteConfig } from "../../repositories/types.js";
import { readBody, UpstreamError, type UpstreamRequest, type UpstreamResponse } from "../kit/upstream.js";
import { originOf } from "../kit/upstream-redirects.js";
import { MANIFEST_TYPES } from "./manifest.js";
import { parseChallenge } from "./protocol.js";

/** One request to `remote` at `path` (relative to remote.url, or absolute). */
export type UpstreamFetch = (remote: RemoteConfig, path: string, req: UpstreamRequest) => Promise<UpstreamResponse>;

const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

function discard(res: UpstreamResponse): void {
  res.body?.destroy();
}

async function readJson<T>(res: UpstreamResponse): Promise<T> {
  const text = (await readBody(res, MAX_DOCUMENT_BYTES)).toString("utf8");
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UpstreamError(502, `Upstream ${res.url} answered with invalid JSON`);
  }
}

export class UpstreamRegistry {
  readonly base: string;
  /** The registry without credentials: they are sent only once its challenge asks for them. */
  private endpoint: RemoteConfig;
  private tokens = new Map<string, { token: string; until: number }>();

  constructor(
    private remote: RemoteConfig,
    private fetchUpstream: UpstreamFetch,
  ) {
    this.base = remote.url.replace(/\/+$/, "").replace(/\/v2$/, "");
    const { username: _u, password: _p, token: _t, auth_token: _a, ...rest } = remote;
    this.endpoint = { ...rest, url: this.base };
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
    let url: URL;
    try {
      url = new URL(challenge.realm);
    } catch {
      return undefined;
    }
    if (challenge.service) url.searchParams.set("service", challenge.service);
    url.searchParams.set("scope", scope);
    // The realm is the token service named by the registry's challenge: the credentials are meant for it.
    const realm: RemoteConfig = { ...this.endpoint, url: url.origin, username: this.remote.username, password: this.remote.password };
    const res = await this.fetchUpstream(realm, url.href, { headers: { accept: "application/json" } });
    if (res.status !== 200) {
      discard(res);
      return undefined;
    }
    const body = await readJson<{ token?: string; access_token?: string; expires_in?: number }>(res);
    const token = body.token ?? body.access_token;
    if (!token) return undefined;
    this.tokens.set(key, { token, until: Date.now() + Math.max(30, (body.expires_in ?? 60) - 10) * 1000 });
    return token;
  }

  /** One request to `/v2/<path>`; follows one auth challenge. */
  async request(method: "GET" | "HEAD", path: string, image: string, headers: Record<string, string> = {}): Promise<UpstreamResponse> {
    const scope = `repository:${image}:pull`;
    const send = (auth?: string) => this.fetchUpstream(this.endpoint, `v2/${path}`, { method, headers: auth ? { ...headers, authorization: auth } : headers });
    const cached = [...this.tokens.entries()].find(([k, v]) => k.endsWith("|" + scope) && v.until > Date.now());
    // No credentials up front: the upstream's challenge says which scheme it wants (docker clients do the same).
    let res = await send(cached ? `Bearer ${cached[1].token}` : undefined);
    // Only the registry itself may ask for credentials: a 401 from where it redirected to (a CDN)
    // must not send them to a realm of that host's choosing.
    if (res.status === 401 && originOf(res.finalUrl) === originOf(this.base)) {
      const ch = parseChallenge(res.headers.get("www-authenticate"));
      discard(res);
      if (ch?.scheme === "bearer") {
        const token = await this.token(ch.params, scope).catch(() => undefined);
        if (token) res = await send(`Bearer ${token}`);
      } else if (ch?.scheme === "basic" && this.basic()) res = await send(this.basic());
    }
    return res;
  }

  /** An answer other than 200 / 404 is the upstream failing: 502. */
  private unexpected(res: UpstreamResponse, what: string): UpstreamError {
    discard(res);
    return new UpstreamError(502, `Upstream ${this.base} answered ${res.status} for ${what}`);
  }

  async manifest(image: string, reference: string): Promise<{ body: Buffer; mediaType: string; digest?: string; lastModified?: Date } | null> {
    const res = await this.request("GET", `${image}/manifests/${reference}`, image, { accept: MANIFEST_TYPES.join(", ") });
    if (res.status === 404) {
      discard(res);
      return null;
    }
    if (res.status !== 200) throw this.unexpected(res, `manifest ${image}:${reference}`);
    const body = await readBody(res, MAX_DOCUMENT_BYTES);
    return {
      body,
      mediaType: (res.headers.get("content-type") ?? "").split(";")[0].trim(),
      digest: res.headers.get("docker-content-digest") ?? undefined,
      lastModified: res.lastModified ?? undefined,
    };
  }

  async blob(image: string, digest: string): Promise<{ stream: Readable; size?: number } | null> {
    const res = await this.request("GET", `${image}/blobs/${digest}`, image);
    if (res.status === 404) {
      discard(res);
      return null;
    }
    if (res.status !== 200 || !res.body) throw this.unexpected(res, `blob ${digest}`);
    const len = res.headers.get("content-length");
    return { stream: res.body, size: len ? Number(len) : undefined };
  }

  async blobSize(image: string, digest: string): Promise<number | null> {
    const res = await this.request("HEAD", `${image}/blobs/${digest}`, image);
    if (res.status === 404) return null;
    if (res.status !== 200) throw this.unexpected(res, `blob ${digest}`);
    return Number(res.headers.get("content-length") ?? 0);
  }

  async tags(image: string): Promise<string[] | null> {
    const res = await this.request("GET", `${image}/tags/list`, image);
    if (res.status === 404) {
      discard(res);
      return null;
    }
    if (res.status !== 200) throw this.unexpected(res, `tags of ${image}`);
    const body = await readJson<{ tags?: string[] | null }>(res);
    return Array.isArray(body.tags) ? body.tags.filter((t): t is string => typeof t === "string") : [];
  }

  async referrers(image: string, digest: string): Promise<unknown[]> {
    const res = await this.request("GET", `${image}/referrers/${digest}`, image, { accept: "application/vnd.oci.image.index.v1+json" });
    if (res.status !== 200) {
      discard(res);
      return [];
    }
    const body = await readJson<{ manifests?: unknown[] }>(res);
    return Array.isArray(body.manifests) ? body.manifests : [];
  }
}
