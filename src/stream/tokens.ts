// One-time tokens for streaming URLs (kubelet streaming request_cache.go): a random token per CRI request,
// valid once for one minute, at most 1000 outstanding, so a URL leaked from a log is useless soon after.
import { randomBytes } from 'node:crypto';
import { CriusError } from '../common/errors.js';

export const TOKEN_TTL_MS = 60_000;
const MAX_IN_FLIGHT = 1000;

export class TokenCache<T> {
  private readonly entries = new Map<string, { value: T; expires: number }>();

  constructor(
    private readonly ttlMs: number = TOKEN_TTL_MS,
    private readonly maxInFlight: number = MAX_IN_FLIGHT,
    private readonly now: () => number = Date.now,
  ) {}

  insert(value: T): string {
    this.evictExpired();
    if (this.entries.size >= this.maxInFlight) {
      throw new CriusError('RESOURCE_EXHAUSTED',
        `streaming: ${this.maxInFlight} stream URLs are already outstanding; use or let them expire (${this.ttlMs / 1000} s) and retry`);
    }
    // 16 random bytes: unguessable during the TTL (the kubelet uses 6; the length is invisible to clients).
    const token = randomBytes(16).toString('base64url');
    this.entries.set(token, { value, expires: this.now() + this.ttlMs });
    return token;
  }

  /** The request behind a token, removed so the token cannot be used again; undefined if unknown, used or expired. */
  consume(token: string): T | undefined {
    const e = this.entries.get(token);
    if (!e) return undefined;
    this.entries.delete(token);
    return e.expires > this.now() ? e.value : undefined;
  }

  size(): number {
    this.evictExpired();
    return this.entries.size;
  }

  private evictExpired(): void {
    const t = this.now();
    // Map iterates in insertion order and every entry has the same TTL, so expired ones come first.
    for (const [k, e] of this.entries) {
      if (e.expires > t) break;
      this.entries.delete(k);
    }
  }
}
