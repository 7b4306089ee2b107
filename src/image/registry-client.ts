// OCI distribution API v2 client on Node's fetch: manifests and blobs, mirrors tried in order before the
// registry itself, basic and bearer-token auth from the CRI AuthConfig, plain HTTP for loopback and
// insecure registries (as Docker does), retries with backoff on 5xx / 429 / connection resets.
// Nothing a registry sends is trusted to be small or to end: every body is read as a stream and cut off
// at its cap (manifests, token answers) or at the size the manifest declares (blobs), and a request that
// stops delivering bytes is cut off by a stall watchdog instead of holding the pull forever.
import { CriusError, errorMessage, failedPrecondition } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { BlobInfo, ContentStore } from './content-store.js';
import { sha256Digest } from './content-store.js';
import { MANIFEST_ACCEPT, type Descriptor } from './manifest.js';
import { DEFAULT_DOMAIN, type ImageReference, isDigest, repositoryName } from './reference.js';

/** Per-registry settings, keyed by the host as written in references (`docker.io`, `127.0.0.1:5000`). */
interface RegistryHostConfig {
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
  /** Largest manifest or index accepted (images.max_manifest_bytes). Default 4 MiB. */
  maxManifestBytes?: number;
  /** A request that receives less than STALL_PROGRESS_BYTES for this long is cut off (images.stall_timeout_seconds). Default 60 s. */
  stallTimeoutMs?: number;
}

interface FetchedManifest {
  bytes: Buffer;
  contentType: string;
  digest: string;
}

interface Endpoint {
  /** `http://127.0.0.1:5000` (no trailing slash). */
  base: string;
  isMirror: boolean;
}

const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const DEFAULT_STALL_TIMEOUT_MS = 60_000;
/** A token answer is a small JSON document; nothing legitimate comes near this. */
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
/**
 * What counts as progress for the stall watchdog: a trickle of a few bytes now and then must not keep a
 * request alive, so the timer restarts only once this much arrived since it last did.
 */
const STALL_PROGRESS_BYTES = 1024;

/**
 * Watches one request: its signal aborts when the caller's does or when the request stalls (less than
 * STALL_PROGRESS_BYTES received within the timeout, counting the wait for the response headers).
 */
export class RequestWatch {
  private readonly ctl = new AbortController();
  readonly signal: AbortSignal;
  /** Set when the watchdog cut the request off. */
  stalled: CriusError | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sinceReset = 0;

  constructor(private readonly timeoutMs: number, private readonly describe: () => string, caller?: AbortSignal) {
    this.signal = caller ? AbortSignal.any([caller, this.ctl.signal]) : this.ctl.signal;
    this.arm();
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const secs = this.timeoutMs / 1000;
      this.stalled = new CriusError('UNAVAILABLE', `${this.describe()}: the registry sent less than ${STALL_PROGRESS_BYTES} bytes in ${secs} s; giving up (the stall timeout is images.stall_timeout_seconds = ${secs})`);
      this.ctl.abort(this.stalled);
    }, this.timeoutMs);
    this.timer.unref();
  }

  /** The response headers arrived. */
  answered(): void {
    this.sinceReset = 0;
    this.arm();
  }

  progress(bytes: number): void {
    this.sinceReset += bytes;
    if (this.sinceReset >= STALL_PROGRESS_BYTES) { this.sinceReset = 0; this.arm(); }
  }

  /** Stops the watchdog and aborts whatever of the request is still open (a body not read to its end). */
  close(): void {
    clearTimeout(this.timer);
    if (!this.ctl.signal.aborted) this.ctl.abort(new CriusError('CANCELLED', 'request finished'));
  }
}

/**
 * Reads a response body into memory, stopping as soon as it passes `cap` bytes: a registry that streams
 * an endless (chunked, length-less) body costs at most `cap` bytes. `tooBig` builds the error.
 */
export async function readCapped(res: Response, cap: number, watch: RequestWatch | undefined, tooBig: () => CriusError): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? '');
  if (Number.isFinite(declared) && declared > cap) {
    await res.body?.cancel().catch(() => undefined);
    throw tooBig();
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      watch?.progress(value.length);
      if (total > cap) throw tooBig();
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  } catch (err) {
    await reader.cancel().catch(() => undefined);
    throw err;
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks, total);
}

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

/** A blob body cut off midway by the network (not by us): the one failure fetchBlob retries itself. */
class BodyInterrupted extends CriusError {}

export class RegistryClient {
  private readonly fetchImpl: typeof fetch;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly log: Logger;
  private readonly maxManifestBytes: number;
  private readonly stallTimeoutMs: number;
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
    this.maxManifestBytes = opts.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    this.stallTimeoutMs = opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    this.endpoints = endpointsFor(ref.domain, opts.registries);
  }

  /** A watchdog for one request (the caller's signal defaults to the pull's). */
  private watch(describe: () => string, signal: AbortSignal | undefined = this.opts.signal): RequestWatch {
    return new RequestWatch(this.stallTimeoutMs, describe, signal);
  }

  /** The error to throw when a request failed: the stall or the cancel that caused it, else `err`. */
  private settle(w: RequestWatch, caller: AbortSignal | undefined, err: unknown): unknown {
    if (w.stalled) return w.stalled;
    if (caller?.aborted) return new CriusError('CANCELLED', 'pull cancelled');
    return err;
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

  private async fetchToken(ep: Endpoint, ch: Challenge, w: RequestWatch): Promise<string> {
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
      res = await this.send(realm, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() }, w);
    } else {
      const headers: Record<string, string> = {};
      if (creds) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      res = await this.send(url.toString(), { headers }, w);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new CriusError(res.status === 401 || res.status === 403 ? 'PERMISSION_DENIED' : 'UNAVAILABLE',
        `token server ${url.origin} refused a token for ${this.scope()} (HTTP ${res.status}); check the pull credentials (imagePullSecrets)`);
    }
    const bytes = await readCapped(res, MAX_TOKEN_RESPONSE_BYTES, w, () => failedPrecondition(
      `token server ${url.origin} answered with more than ${MAX_TOKEN_RESPONSE_BYTES} bytes (the token response limit); refusing it`));
    let json: { token?: unknown; access_token?: unknown };
    try {
      json = JSON.parse(bytes.toString('utf8')) as { token?: unknown; access_token?: unknown };
    } catch {
      throw failedPrecondition(`token server ${url.origin} answered with something that is not JSON`);
    }
    const token = typeof json?.token === 'string' ? json.token : typeof json?.access_token === 'string' ? json.access_token : undefined;
    if (!token) throw failedPrecondition(`token server ${url.origin} answered without a token`);
    return `Bearer ${token}`;
  }

  /** One HTTP exchange with retries on 5xx, 429 and network errors. */
  private async send(url: string, init: RequestInit, w: RequestWatch): Promise<Response> {
    let lastErr: unknown;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) await sleep(this.backoffMs * 2 ** (attempt - 1), w.signal).catch((err: unknown) => { throw w.stalled ?? err; });
      try {
        const req: RequestInit = { ...init, redirect: 'follow', signal: w.signal };
        const res = await this.fetchImpl(url, req);
        w.answered();
        if (res.status >= 500 || res.status === 429) {
          await res.body?.cancel();
          lastErr = new CriusError('UNAVAILABLE', `${url}: HTTP ${res.status}`);
          this.log.debug('registry retry', { url, status: res.status, attempt });
          continue;
        }
        return res;
      } catch (err) {
        if (w.stalled) throw w.stalled;
        if (w.signal.aborted) throw new CriusError('CANCELLED', 'pull cancelled');
        if (!isNetworkError(err)) throw err;
        lastErr = new CriusError('UNAVAILABLE', `${url}: ${errorMessage(err)}${(err as { cause?: unknown }).cause ? ` (${errorMessage((err as { cause?: unknown }).cause)})` : ''}`);
        this.log.debug('registry retry', { url, error: errorMessage(lastErr), attempt });
      }
    }
    throw lastErr;
  }

  /** GET path on one endpoint, answering an auth challenge once. */
  private async get(ep: Endpoint, path: string, headers: Record<string, string>, w: RequestWatch): Promise<Response> {
    const key = `${ep.base} ${this.scope()}`;
    const url = `${ep.base}/v2/${this.ref.path}/${path}`;
    const auth0 = this.authCache.get(key);
    const withAuth = (a: string | undefined): Record<string, string> => (a ? { ...headers, authorization: a } : headers);
    let res = await this.send(url, { headers: withAuth(auth0) }, w);
    if (res.status !== 401) return res;
    await res.body?.cancel();
    const ch = parseChallenge(res.headers.get('www-authenticate') ?? '');
    let authz: string;
    if (ch?.scheme === 'bearer') {
      authz = await this.fetchToken(ep, ch, w);
    } else if (ch?.scheme === 'basic') {
      const creds = basicCredentials(this.credentialsFor(ep));
      if (!creds) throw new CriusError('PERMISSION_DENIED', `registry ${ep.base} requires credentials for ${this.ref.path} and none were given; add an imagePullSecret`);
      authz = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    } else {
      throw new CriusError('PERMISSION_DENIED', `registry ${ep.base} answered 401 with an unsupported challenge "${res.headers.get('www-authenticate') ?? ''}"`);
    }
    this.authCache.set(key, authz);
    res = await this.send(url, { headers: withAuth(authz) }, w);
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
      const w = this.watch(() => `${what} from ${ep.base}`);
      try {
        return await this.manifestFrom(ep, reference, w);
      } catch (err) {
        throw this.settle(w, this.opts.signal, err);
      } finally {
        w.close();
      }
    });
  }

  /** One manifest request on one endpoint, its body cut off at images.max_manifest_bytes. */
  private async manifestFrom(ep: Endpoint, reference: string, w: RequestWatch): Promise<FetchedManifest> {
    const res = await this.get(ep, `manifests/${reference}`, { accept: MANIFEST_ACCEPT }, w);
    if (res.status === 404) {
      await res.body?.cancel();
      throw new CriusError('NOT_FOUND', `${ep.base} has no manifest ${this.ref.path}:${reference}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new CriusError('UNAVAILABLE', `${ep.base}: HTTP ${res.status} for manifest ${this.ref.path}:${reference}`);
    }
    const cap = this.maxManifestBytes;
    const bytes = await readCapped(res, cap, w, () => failedPrecondition(
      `manifest ${this.ref.path}:${reference} from ${ep.base} is larger than ${cap} bytes (the limit images.max_manifest_bytes = ${cap}); refusing it`));
    const digest = sha256Digest(bytes);
    if (isDigest(reference) && digest !== reference) {
      throw failedPrecondition(`manifest from ${ep.base} for ${this.ref.path}@${reference} has digest ${digest}; refusing it`);
    }
    return { bytes, contentType: res.headers.get('content-type') ?? '', digest };
  }

  /** Downloads a blob into the content store, verifying size and digest while it streams. */
  async fetchBlob(desc: Descriptor, store: ContentStore, what: string, signal: AbortSignal | undefined = this.opts.signal): Promise<BlobInfo> {
    return this.withEndpoints(what, async (ep) => {
      let lastErr: unknown;
      // Retries here cover a body cut off midway (connection reset after the headers arrived).
      for (let attempt = 0; attempt <= this.retries; attempt++) {
        if (attempt > 0) await sleep(this.backoffMs * 2 ** (attempt - 1), signal);
        const w = this.watch(() => `${what} from ${ep.base}`, signal);
        try {
          return await this.blobFrom(ep, desc, store, what, w);
        } catch (err) {
          const final = this.settle(w, signal, err);
          // A stall, a cancel or refused content is final; a connection cut midway is worth another try.
          if (final !== err || !(err instanceof BodyInterrupted)) throw final;
          lastErr = err;
          this.log.debug('blob download interrupted, retrying', { digest: desc.digest, attempt });
        } finally {
          w.close();
        }
      }
      throw lastErr;
    });
  }

  /** One blob request on one endpoint, streamed into the store and cut off past the declared size. */
  private async blobFrom(ep: Endpoint, desc: Descriptor, store: ContentStore, what: string, w: RequestWatch): Promise<BlobInfo> {
    const res = await this.get(ep, `blobs/${desc.digest}`, {}, w);
    if (res.status === 404) {
      await res.body?.cancel();
      throw new CriusError('NOT_FOUND', `${ep.base} has no blob ${desc.digest} in ${this.ref.path}`);
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new CriusError('UNAVAILABLE', `${ep.base}: HTTP ${res.status} for blob ${desc.digest}`);
    }
    // The manifest's declared size is the cap: ingest stops at the first byte past it.
    const declared = Number(res.headers.get('content-length') ?? '');
    if (Number.isFinite(declared) && declared > desc.size) {
      await res.body.cancel().catch(() => undefined);
      throw failedPrecondition(`${what}: ${ep.base} announces ${declared} bytes but the manifest declares ${desc.size}; the registry served the wrong content, nothing was kept`);
    }
    const onProgress = this.opts.onProgress;
    let received = 0;
    const body: AsyncIterable<Uint8Array> = res.body;
    const counted = (async function* () {
      for await (const c of body) {
        received += c.length;
        w.progress(c.length);
        onProgress?.({ digest: desc.digest, received, total: desc.size });
        yield c;
      }
    })();
    try {
      return await store.ingest({ digest: desc.digest, size: desc.size }, counted, what);
    } catch (err) {
      if (err instanceof CriusError) throw err;
      if (!isNetworkError(err) || w.signal.aborted) throw err;
      throw new BodyInterrupted('UNAVAILABLE', `${what}: download interrupted: ${errorMessage(err)}`, { cause: err });
    }
  }
}
