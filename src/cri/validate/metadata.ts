// PodSandboxMetadata and ContainerMetadata: the names end up in paths (log directories), CNI_ARGS
// (an environment variable: a 200 KB name made the CNI spawn fail with E2BIG), logs and annotations.
import { invalidArgument } from '../../common/errors.js';
import { maxBytes, noControlChars, shown } from './text.js';

/**
 * Longest name, namespace or uid: Kubernetes' longest object name (a DNS subdomain, 253 characters);
 * namespaces (63) and uids (36, a UUID) are shorter still.
 */
export const MAX_METADATA_BYTES = 253;

/** A non-empty name with no control characters and no '/', at most MAX_METADATA_BYTES. */
function checkMetadataName(value: string | null | undefined, field: string): string {
  if (!value) throw invalidArgument(`${field} is empty`);
  maxBytes(value, MAX_METADATA_BYTES, field);
  noControlChars(value, field);
  if (value.includes('/')) throw invalidArgument(`${field} ${shown(value)} contains "/"; names are used in paths and may not`);
  return value;
}

export interface PodMetadataInput {
  name?: string | null;
  namespace?: string | null;
  uid?: string | null;
  attempt?: number | null;
}

export function checkPodMetadata(meta: PodMetadataInput | null | undefined, field: string): void {
  if (!meta) throw invalidArgument(`${field} is missing: give name, namespace and uid`);
  checkMetadataName(meta.name, `${field}.name`);
  checkMetadataName(meta.namespace, `${field}.namespace`);
  checkMetadataName(meta.uid, `${field}.uid`);
}

export function checkContainerMetadata(meta: { name?: string | null } | null | undefined, field: string): void {
  if (!meta) throw invalidArgument(`${field} is missing: give the container's name`);
  checkMetadataName(meta.name, `${field}.name`);
}
