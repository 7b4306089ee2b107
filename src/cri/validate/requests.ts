// The shape checks of RunPodSandbox, CreateContainer and UpdateContainerResources, run by the handlers
// before the request reaches pod/ or container/: nothing is written, mounted or spawned for a request
// that fails here, and each refusal is INVALID_ARGUMENT naming the request field.
import { checkDnsConfig, checkHostname, type DnsConfigInput } from './hostname.js';
import { checkLabelsSize } from './labels.js';
import { checkLogDirectory, checkLogPath } from './log-path.js';
import { checkContainerMetadata, checkPodMetadata, type PodMetadataInput } from './metadata.js';
import { checkDevices, checkMounts, type DeviceInput, type MountInput } from './mounts.js';
import { checkResources, type HostCpuset, type ResourcesInput } from './resources.js';

export interface RequestLimits {
  /** [limits] max_labels_annotations_bytes. */
  labelsAnnotationsBytes: number;
  host: HostCpuset;
}

interface PodConfigShape {
  metadata?: PodMetadataInput | null;
  hostname?: string | null;
  log_directory?: string | null;
  dns_config?: DnsConfigInput | null;
  labels?: Record<string, string> | null;
  annotations?: Record<string, string> | null;
  linux?: { resources?: ResourcesInput | null } | null;
}

interface ContainerConfigShape {
  metadata?: { name?: string | null } | null;
  mounts?: readonly MountInput[] | null;
  devices?: readonly DeviceInput[] | null;
  log_path?: string | null;
  labels?: Record<string, string> | null;
  annotations?: Record<string, string> | null;
  linux?: { resources?: ResourcesInput | null } | null;
}

/** `field` names the PodSandboxConfig in messages ("config" in RunPodSandbox, "sandbox_config" in CreateContainer). */
export function checkPodSandboxConfig(c: PodConfigShape, limits: RequestLimits, field = 'config'): void {
  checkPodMetadata(c.metadata, `${field}.metadata`);
  // Without a hostname pod/ derives one from the pod's name (critest sends none, with 60+ character names).
  if (c.hostname) checkHostname(c.hostname, `${field}.hostname`);
  checkDnsConfig(c.dns_config, `${field}.dns_config`);
  checkLogDirectory(c.log_directory, `${field}.log_directory`);
  checkLabelsSize(c.labels, c.annotations, limits.labelsAnnotationsBytes, field);
  checkResources(c.linux?.resources, `${field}.linux.resources`, limits.host);
}

export function checkContainerConfig(c: ContainerConfigShape, limits: RequestLimits, field = 'config'): void {
  checkContainerMetadata(c.metadata, `${field}.metadata`);
  checkLabelsSize(c.labels, c.annotations, limits.labelsAnnotationsBytes, field);
  checkMounts(c.mounts, `${field}.mounts`);
  checkDevices(c.devices, `${field}.devices`);
  checkLogPath(c.log_path, `${field}.log_path`);
  checkResources(c.linux?.resources, `${field}.linux.resources`, limits.host);
}
