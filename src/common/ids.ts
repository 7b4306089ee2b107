import { randomBytes } from 'node:crypto';

// Branded IDs: a pod ID cannot be passed where a container ID is expected.
export type PodId = string & { readonly __brand: 'PodId' };
export type ContainerId = string & { readonly __brand: 'ContainerId' };

/** 64 hex characters, like containerd and CRI-O IDs, so tools that shorten IDs to 12/13 chars work. */
function newId(): string {
  return randomBytes(32).toString('hex');
}
export const newPodId = (): PodId => newId() as PodId;
export const newContainerId = (): ContainerId => newId() as ContainerId;
