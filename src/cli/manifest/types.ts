// The subset of Kubernetes v1 objects `crius run` understands, as plain TS types. Field names are the
// API's (camelCase); everything the validator has not checked is `unknown` until it has.

export interface KeyToPath { key: string; path: string; mode?: number }

export interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  emptyDir?: { medium?: string; sizeLimit?: string | number };
  configMap?: { name: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean };
  secret?: { secretName: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean };
}

interface VolumeMount { name: string; mountPath: string; readOnly?: boolean; subPath?: string }

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
  };
}

interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}

interface ContainerPort { containerPort: number; hostPort?: number; hostIP?: string; protocol?: string; name?: string }

interface ResourceList { cpu?: string | number; memory?: string | number }

interface Capabilities { add?: string[]; drop?: string[] }

export interface SeccompProfile { type: 'RuntimeDefault' | 'Unconfined' | 'Localhost'; localhostProfile?: string }

interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: Capabilities;
  seccompProfile?: SeccompProfile;
}

interface PodSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  supplementalGroups?: number[];
  fsGroup?: number;
  seccompProfile?: SeccompProfile;
  sysctls?: { name: string; value: string }[];
}

export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  ports?: ContainerPort[];
  resources?: { limits?: ResourceList; requests?: ResourceList };
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
  stdin?: boolean;
  tty?: boolean;
  terminationMessagePath?: string;
}

interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  hostUsers?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  shareProcessNamespace?: boolean;
  hostname?: string;
  subdomain?: string;
  dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: { name: string; value?: string }[] };
  securityContext?: PodSecurityContext;
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  runtimeClassName?: string;
  terminationGracePeriodSeconds?: number;
}

interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Pod { apiVersion: 'v1'; kind: 'Pod'; metadata: ObjectMeta; spec: PodSpec }

/** ConfigMap and Secret contents, decoded to bytes (Secret `data` is base64, `stringData` is text). */
export interface DataSource { kind: 'ConfigMap' | 'Secret'; name: string; data: Map<string, Buffer> }

export interface ParsedManifest {
  pod: Pod;
  /** ConfigMaps and Secrets from the same stream, by kind then name. */
  sources: DataSource[];
  /** Things a person should know (e.g. a Deployment was reduced to one pod). */
  notes: string[];
}
