// OCI distribution API v2 client on Node's fetch: manifests and blobs, mirrors tried in order before the
// registry itself, basic and bearer-token auth from the CRI AuthConfig, plain HTTP for loopback and
// insecure registries (as Docker does), retries with backoff on 5xx / 429 / connection resets.
import { CriusError, errorMessage, failedPrecondition } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { BlobInfo, ContentStore } from './content-store.js';
import { sha256Digest } from './content-store.js';
import { MANIFEST_ACCEPT, type Descriptor } from './manifest.js';
import { DEFAULT_DOMAIN, type ImageReference, isDigest, repositoryName } from './reference.js';

/** Per-registry settings, keyed by the host as written in references (`docker.io`, `127.0.0.1:5000`). */
export interface RegistryHostConfig {
  /** Base URLs (`http://127.0.0.1:5000`), tried in order before the registry itself. */
  mirrors: string[];
  /** Use plain HTTP for the registry itself. */
  insecure?: boolean;
}
export type RegistriesConfig = Record<string, RegistryHostConfig>;

/** The CRI AuthConfig fields (runtime.v1 api.proto), as plain data. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  /** base64("username:password"), as in a docker config.json. */
  auth?: string;
  server_address?: string;
  identity_token?: string;
  registry_token?: string;
}

export interface RegistryClientOptions {
  registries?: RegistriesConfig;
  auth?: RegistryAuth | null;
  fetch?: typeof fetch;
  /** Extra attempts after the first on 5xx, 429 and network errors. Default 4. */
  retries?: number;
  /** First backoff in ms, doubled each attempt. Default 250. */
  backoffMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
  onProgress?: (p: { digest: string; received: number; total: number }) => void;
}

export interface FetchedManifest {
  bytes: Buffer;
  contentType: string;
  digest: string;
}

interface Endpoint {
  /** `http://127.0.0.1:5000` (no trailing slash). */
  base: string;
  isMirror: boolean;
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/:\d+$/, '');
  return h === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '[::1]';
}

/** The endpoints to try for a registry host: its mirrors, then the host itself. */
export function endpointsFor(domain: string, registries: RegistriesConfig = {}): Endpoint[] {
  const cfg = registries[domain];
  const out: Endpoint[] = (cfg?.mirrors ?? []).map((m) => ({ base: m.replace(/\/+$/, '').replace(/\/v2$/, ''), isMirror: true }));
  const host = domain === DEFAULT_DOMAIN ? 'registry-1.docker.io' : domain;
  const scheme = cfg?.insecure || isLoopbackHost(host) ? 'http' : 'https';
  out.push({ base: `${scheme}://${host}`, isMirror: false });
  return out;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="...",service="...",scope="..."` (RFC 7235 auth-params). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!)) !== null) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1]!.toLowerCase(), params };
}

function basicCredentials(auth: RegistryAuth | null | undefined): { username: string; password: string } | undefined {
  if (!auth) return undefined;
  if (auth.username) return { username: auth.username, password: auth.password ?? '' };
  if (auth.auth) {
    const decoded = Buffer.from(auth.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
  }
  return undefined;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> => new Promise((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); reject(new CriusError('CANCELLED', 'pull cancelled')); }, { once: true });
});

/** A network-level failure (reset, refused, cut-off body) as opposed to an HTTP answer. */
function isNetworkError(err: unknown): boolean {
  if (err instanceof CriusError) return err.code === 'UNAVAILABLE';
  return err instanceof TypeError || (err instanceof Error && /ECONNRESET|ECONNREFUSED|EPIPE|socket|terminated|other side closed|premature/i.test(`${err.message} ${String((err as { cause?: unknown }).cause ?? '')}`));
}

export class RegistryClient {
  private readonly fetchImpl: typeof fetch;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly log: Logger;
  /** Authorization header per endpoint base + scope, learned from challenges. */
  private readonly authCache = new Map<string, string>();
  private readonly endpoints: Endpoint[];
  /** The endpoint that last answered, tried first for the following requests. */
  private preferred = 0;

  constructor(readonly ref: ImageReference, private readonly opts: RegistryClientOptions = {}) {
    this.fetchImpl = opts.fetch ?? fetch;
    this.retries = opts.retries ?? 4;
    this.backoffMs = opts.backoffMs ?? 250;
    this.log = opts.logger ?? silentLogger;
    this.endpoints = endpointsFor(ref.domain, opts.registries);
  }

  private scope(): string {
    return `repository:${this.ref.path}:pull`;
  }

  /** Credentials go to the registry itself, or to a mirror only when the AuthConfig names that mirror's host. */
  private credentialsFor(ep: Endpoint): RegistryAuth | undefined {
    const auth = this.opts.auth;
    if (!auth) return undefined;
    if (!ep.isMirror) return auth;
    const host = new URL(ep.base).host;
    const server = (auth.server_address ?? '').replace(/^\w+:\/\//, '').replace(/\/.*$/, '');
    return server !== '' && server === host ? auth : undefined;
  }

  private async fetchToken(ep: Endpoint, ch: Challenge): Promise<string> {
    const auth = this.credentialsFor(ep);
    if (auth?.registry_token) return `Bearer ${auth.registry_token}`;
    const realm = ch.params.realm;
    if (!realm) throw failedPrecondition(`registry ${ep.base} asked for a bearer token without a realm`);
    const url = new URL(realm);
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    url.searchParams.set('scope', ch.params.scope ?? this.scope());
    const creds = basicCredentials(auth);
    let res: Response;
    if (auth?.identity_token) {
      // OAuth2 refresh-token grant (distribution token spec, "oauth.md").
      const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: auth.identity_token, service: ch.params.service ?? '', scope: ch.params.scope ?? this.scope(), client_id: 'crius' });
      res = await this.send(realm, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
    } else {
      const headers: Record<string, string> = {};
      if (creds) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      res = await this.send(url.toString(), { headers });
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new CriusError(res.status === 401 || res.status === 403 ? 'PERMISSION_DENIED' : 'UNAVAILABLE',
        `token server ${url.origin} refused a token for ${this.scope()} (HTTP ${res.status}); check the pull credentials (imagePullSecrets)`);
    }
    const json = await res.json() as { token?: string; access_token?: string };
    const token = json.token ?? json.access_token;
    if (!token) throw failedPrecondition(`token server ${url.origin} answered without a token`);
    return `Bearer ${token}`;
  }

  /** One HTTP exchange with retries on 5xx, 429 and network errors. */
  private async send(url: string, init: RequestInit): Promise<Response> {
    let lastErr: unknown;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) await sleep(this.backoffMs * 2 ** (attempt - 1), this.opts.signal);
      try {
        const req: RequestInit = { ...init, redirect: 'follow' };
        if (this.opts.signal) req.signal = this.opts.signal;
        const res = await this.fetchImpl(url, req);
        if (res.status >= 500 || res.status === 429) {
          await res.body?.cancel();
          lastErr = new CriusError('UNAVAILABLE', `${url}: HTTP ${res.status}`);
          this.log.debug('registry retry', { url, status: res.status, attempt });
          continue;
        }
        return res;
      } catch (err) {
        if (this.opts.signal?.aborted) throw new CriusError('CANCELLED', 'pull cancelled');
        if (!isNetworkError(err)) throw err;
        lastErr = new CriusError('UNAVAILABLE', `${url}: ${errorMessage(err)}${(err as { cause?: unknown }).cause ? ` (${errorMessage((err as { cause?: unknown }).cause)})` : ''}`);
        this.log.debug('registry retry', { url, error: errorMessage(lastErr), attempt });
      }
    }
    throw lastErr;
  }

  /** GET path on one endpoint, answering an auth challenge once. */
  private async get(ep: Endpoint, path: string, headers: Record<string, string>): Promise<Response> {
    const key = `${ep.base} ${this.scope()}`;
    const url = `${ep.base}/v2/${this.ref.path}/${path}`;
    const auth0 = this.authCache.get(key);
    const withAuth = (a: string | undefined): Record<string, string> => (a ? { ...headers, authorization: a } : headers);
    let res = await this.send(url, { headers: withAuth(auth0) });
    if (res.status !== 401) return res;
    await res.body?.cancel();
    const ch = parseChallenge(res.headers.get('www-authenticate') ?? '');
    let authz: string;
    if (ch?.scheme === 'bearer') {
      authz = await this.fetchToken(ep, ch);
    } else if (ch?.scheme === 'basic') {
      const creds = basicCredentials(this.credentialsFor(ep));
      if (!creds) throw new CriusError('PERMISSION_DENIED', `registry ${ep.base} requires credentials for ${this.ref.path} and none were given; add an imagePullSecret`);
      authz = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    } else {
      throw new CriusError('PERMISSION_DENIED', `registry ${ep.base} answered 401 with an unsupported challenge "${res.headers.get('www-authenticate') ?? ''}"`);
    }
    this.authCache.set(key, authz);
    res = await this.send(url, { headers: withAuth(authz) });
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new CriusError('PERMISSION_DENIED', `registry ${ep.base} denied access to ${this.ref.path} (HTTP ${res.status}); check the pull credentials`);
    }
    return res;
  }

  /** Runs `fn` against the endpoints, preferred first, falling through to the next on failure. */
  private async withEndpoints<T>(what: string, fn: (ep: Endpoint) => Promise<T>): Promise<T> {
    const order = [this.preferred, ...this.endpoints.map((_, i) => i).filter((i) => i !== this.preferred)];
    const errors: string[] = [];
    let last: unknown;
    for (const i of order) {
      const ep = this.endpoints[i]!;
      try {
        const out = await fn(ep);
        this.preferred = i;
        return out;
      } catch (err) {
        // A verified-content mismatch or a cancel is final; anything else may be one mirror's problem.
        if (err instanceof CriusError && (err.code === 'FAILED_PRECONDITION' || err.code === 'CANCELLED') && !ep.isMirror) throw err;
        if (err instanceof CriusError && err.code === 'CANCELLED') throw err;
        errors.push(`${ep.base}: ${errorMessage(err)}`);
        last = err;
        this.log.debug('registry endpoint failed', { endpoint: ep.base, what, error: errorMessage(err) });
      }
    }
    if (errors.length === 1) throw last;
    const code = last instanceof CriusError ? last.code : 'UNAVAILABLE';
    throw new CriusError(code, `${what}: every endpoint failed: ${errors.join('; ')}`);
  }

  /** Fetches a manifest or index by tag or digest; a digest reference is verified against the bytes. */
  async getManifest(reference: string): Promise<FetchedManifest> {
    const what = `fetch manifest ${repositoryName(this.ref)}${isDigest(reference) ? '@' : ':'}${reference}`;
    return this.withEndpoints(what, async (ep) => {
      const res = await this.get(ep, `manifests/${reference}`, { accept: MANIFEST_ACCEPT });
      if (res.status === 404) {
        await res.body?.cancel();
        throw new CriusError('NOT_FOUND', `${ep.base} has no manifest ${this.ref.path}:${reference}`);
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new CriusError('UNAVAILABLE', `${ep.base}: HTTP ${res.status} for manifest ${this.ref.path}:${reference}`);
      }
      const len = Number(res.headers.get('content-length') ?? '0');
      if (len > MAX_MANIFEST_BYTES) {
        await res.body?.cancel();
        throw failedPrecondition(`manifest ${this.ref.path}:${reference} is ${len} bytes, over the ${MAX_MANIFEST_BYTES} limit`);
      }
      const bytes = Buffer.from(await res.arrayBuffer());
      if (bytes.length > MAX_MANIFEST_BYTES) throw failedPrecondition(`manifest ${this.ref.path}:${reference} is over the ${MAX_MANIFEST_BYTES} byte limit`);
      const digest = sha256Digest(bytes);
      if (isDigest(reference) && digest !== reference) {
        throw failedPrecondition(`manifest from ${ep.base} for ${this.ref.path}@${reference} has digest ${digest}; refusing it`);
      }
      return { bytes, contentType: res.headers.get('content-type') ?? '', digest };
    });
  }

  /** Downloads a blob into the content store, verifying size and digest while it streams. */
  async fetchBlob(desc: Descriptor, store: ContentStore, what: string): Promise<BlobInfo> {
    return this.withEndpoints(what, async (ep) => {
      let lastErr: unknown;
      // Retries here cover a body cut off midway (connection reset after the headers arrived).
      for (let attempt = 0; attempt <= this.retries; attempt++) {
        if (attempt > 0) await sleep(this.backoffMs * 2 ** (attempt - 1), this.opts.signal);
        const res = await this.get(ep, `blobs/${desc.digest}`, {});
        if (res.status === 404) {
          await res.body?.cancel();
          throw new CriusError('NOT_FOUND', `${ep.base} has no blob ${desc.digest} in ${this.ref.path}`);
        }
        if (!res.ok || !res.body) {
          await res.body?.cancel();
          throw new CriusError('UNAVAILABLE', `${ep.base}: HTTP ${res.status} for blob ${desc.digest}`);
        }
        const onProgress = this.opts.onProgress;
        let received = 0;
        const body = res.body as unknown as AsyncIterable<Uint8Array>;
        const counted = onProgress ? (async function* () {
          for await (const c of body) { received += c.length; onProgress({ digest: desc.digest, received, total: desc.size }); yield c; }
        })() : body;
        try {
          return await store.ingest({ digest: desc.digest, size: desc.size }, counted, what);
        } catch (err) {
          if (err instanceof CriusError && err.code === 'FAILED_PRECONDITION') throw err;
          if (this.opts.signal?.aborted) throw new CriusError('CANCELLED', `${what}: cancelled`);
          if (!isNetworkError(err)) throw err;
          lastErr = new CriusError('UNAVAILABLE', `${what}: download interrupted: ${errorMessage(err)}`);
          this.log.debug('blob download interrupted, retrying', { digest: desc.digest, attempt });
        }
      }
      throw lastErr;
    });
  }
}
