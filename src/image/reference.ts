// Image references normalised the way Docker and the kubelet do (github.com/distribution/reference):
// `busybox` -> `docker.io/library/busybox:latest`, `host:5000/a/b@sha256:...` kept as given.
import { invalidArgument } from '../common/errors.js';

export interface ImageReference {
  /** Registry host as written in references (`docker.io`, `127.0.0.1:5000`). */
  domain: string;
  /** Repository path inside the registry (`library/busybox`). */
  path: string;
  tag?: string;
  /** `sha256:<64 hex>`. When present it wins over the tag for pulling. */
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
// distribution/reference grammar.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const NAME_TOTAL_LENGTH_MAX = 255;

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

function validDomain(domain: string): boolean {
  // IPv6 literal in brackets, optionally with a port.
  if (/^\[[0-9a-fA-F:.]+\](?::\d+)?$/.test(domain)) return true;
  const m = /^([^:]+)(?::(\d+))?$/.exec(domain);
  if (!m) return false;
  return m[1]!.split('.').every((c) => DOMAIN_COMPONENT.test(c));
}

/** Parses and normalises a reference; throws INVALID_ARGUMENT naming it when malformed. */
export function parseReference(input: string): ImageReference {
  const bad = (why: string): never => {
    throw invalidArgument(`image reference ${JSON.stringify(input)} is invalid: ${why}; expected e.g. "busybox", "docker.io/library/busybox:1.36" or "host:5000/repo@sha256:<64 hex>"`);
  };
  if (input === '' || input.trim() !== input) bad('it is empty or has surrounding whitespace');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) bad(`digest "${digest}" is not sha256:<64 lowercase hex>`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) bad(`tag "${tag}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  if (rest === '') bad('the repository name is empty');
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    // Docker's rule: the first component is a registry host when it has a dot or a port, or is localhost.
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (!validDomain(domain)) bad(`registry host "${domain}" is not a valid host[:port]`);
  // Docker refuses a bare 64-hex name: it would be confused with an image ID.
  if (/^[a-f0-9]{64}$/.test(path)) bad('a 64-hex image ID cannot be used as a repository name');
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  for (const c of path.split('/')) {
    if (!PATH_COMPONENT.test(c)) {
      bad(c !== c.toLowerCase() ? 'repository names must be lowercase' : `path component "${c}" must match [a-z0-9]+([._-][a-z0-9]+)*`);
    }
  }
  if (`${domain}/${path}`.length > NAME_TOTAL_LENGTH_MAX) bad(`the name is longer than ${NAME_TOTAL_LENGTH_MAX} characters`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  const ref: ImageReference = { domain, path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** `docker.io/library/busybox` */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** Fully qualified: `docker.io/library/busybox:latest`, `host/a@sha256:..`, or both when both were given. */
export function formatReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** The name:tag form for repo_tags, undefined when the reference has no tag. */
export function taggedName(ref: ImageReference): string | undefined {
  return ref.tag === undefined ? undefined : `${repositoryName(ref)}:${ref.tag}`;
}

/** The repo@digest form for repo_digests. */
export function digestedName(ref: ImageReference, digest: string): string {
  return `${repositoryName(ref)}@${digest}`;
}

/** True for an image ID (`sha256:<hex>` or bare 64 hex), which names a stored image rather than a repository. */
export function looksLikeImageId(s: string): boolean {
  return /^(sha256:)?[a-f0-9]{64}$/.test(s);
}
