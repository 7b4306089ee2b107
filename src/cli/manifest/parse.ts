// Reads a YAML stream (one or more documents) into the one pod `crius run` runs plus the ConfigMaps and
// Secrets it may reference. Every problem is reported with its field path, all at once, so a person can
// fix the manifest in one go: `spec.containers[0].image: required`.
import { parseAllDocuments } from 'yaml';
import { invalidArgument } from '../../common/errors.js';
import type { DataSource, ParsedManifest, Pod } from './types.js';
import { validatePod } from './validate.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Workload kinds whose `spec.template` is a pod template (only the first pod is run). */
const TEMPLATE_KINDS = new Set(['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job']);

function dataSource(doc: Obj, where: string, errors: string[]): DataSource | undefined {
  const kind = doc['kind'] as 'ConfigMap' | 'Secret';
  const meta = doc['metadata'];
  const name = isObj(meta) ? meta['name'] : undefined;
  if (typeof name !== 'string' || name === '') {
    errors.push(`${where}metadata.name: required for a ${kind}`);
    return undefined;
  }
  const data = new Map<string, Buffer>();
  const add = (field: string, decode: (v: string) => Buffer): void => {
    const d = doc[field];
    if (d === undefined || d === null) return;
    if (!isObj(d)) { errors.push(`${where}${field}: must be a map of key to value`); return; }
    for (const [k, v] of Object.entries(d)) {
      if (!/^[-._a-zA-Z0-9]+$/.test(k)) { errors.push(`${where}${field}.${k}: a key must consist of alphanumerics, "-", "_" or "."`); continue; }
      if (typeof v !== 'string') { errors.push(`${where}${field}.${k}: must be a string, got ${typeof v}`); continue; }
      data.set(k, decode(v));
    }
  };
  if (kind === 'ConfigMap') {
    add('data', (v) => Buffer.from(v, 'utf8'));
    add('binaryData', (v) => Buffer.from(v, 'base64'));
  } else {
    add('data', (v) => {
      if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(v)) errors.push(`${where}data: values of a Secret's data are base64 (use stringData for text)`);
      return Buffer.from(v, 'base64');
    });
    add('stringData', (v) => Buffer.from(v, 'utf8'));
  }
  return { kind, name, data };
}

/** Parses and validates; throws INVALID_ARGUMENT listing every problem with its field path. */
export function parseManifest(text: string, file = 'manifest'): ParsedManifest {
  const errors: string[] = [];
  const notes: string[] = [];
  const sources: DataSource[] = [];
  let pod: Obj | undefined;
  let podWhere = '';
  // YAML 1.1, as Kubernetes reads manifests (go-yaml v2): `defaultMode: 0400` is octal there.
  const docs = parseAllDocuments(text, { prettyErrors: true, version: '1.1' });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((d, i) => {
    const multi = list.length > 1;
    const where = multi ? `document ${i + 1}: ` : '';
    if (d.errors.length > 0) {
      for (const e of d.errors) errors.push(`${file}: ${where}not valid YAML: ${e.message.split('\n')[0]}`);
      return;
    }
    const v: unknown = d.toJS();
    if (v === null || v === undefined) return; // an empty document (e.g. a trailing ---)
    if (!isObj(v)) { errors.push(`${where}(document): must be a Kubernetes object, got ${Array.isArray(v) ? 'a list' : typeof v}`); return; }
    const kind = v['kind'];
    const apiVersion = v['apiVersion'];
    if (typeof kind !== 'string') { errors.push(`${where}kind: required (Pod, Deployment, ConfigMap or Secret)`); return; }
    if (kind === 'List' && Array.isArray(v['items'])) { errors.push(`${where}kind: List is not supported; write the objects as separate YAML documents (---)`); return; }
    if (kind === 'ConfigMap' || kind === 'Secret') {
      if (apiVersion !== 'v1') errors.push(`${where}apiVersion: a ${kind} is "v1", got ${JSON.stringify(apiVersion)}`);
      const s = dataSource(v, where, errors);
      if (s) {
        if (sources.some((o) => o.kind === s.kind && o.name === s.name)) errors.push(`${where}metadata.name: ${kind} "${s.name}" is defined twice`);
        else sources.push(s);
      }
      return;
    }
    if (kind !== 'Pod' && !TEMPLATE_KINDS.has(kind)) {
      errors.push(`${where}kind: "${kind}" is not something crius run can run (Pod, Deployment and other pod templates, ConfigMap, Secret)`);
      return;
    }
    if (pod) {
      notes.push(`${where}${kind} ignored: crius run runs one pod per call (the first one in the stream)`);
      return;
    }
    if (kind === 'Pod') {
      if (apiVersion !== 'v1') errors.push(`${where}apiVersion: a Pod is "v1", got ${JSON.stringify(apiVersion)}`);
      pod = v;
      podWhere = where;
      return;
    }
    // A workload: run its pod template once, named after the workload, as a single replica.
    const spec = v['spec'];
    const template = isObj(spec) ? spec['template'] : undefined;
    const meta = isObj(v['metadata']) ? v['metadata'] : {};
    if (!isObj(template)) { errors.push(`${where}spec.template: required in a ${kind}`); return; }
    const tmeta = isObj(template['metadata']) ? template['metadata'] : {};
    pod = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { ...tmeta, name: tmeta['name'] ?? meta['name'], namespace: tmeta['namespace'] ?? meta['namespace'] },
      spec: template['spec'],
    };
    podWhere = `${where}(${kind} ${String(meta['name'] ?? '')} spec.template) `;
    const replicas = isObj(spec) ? spec['replicas'] : undefined;
    notes.push(`${kind} "${String(meta['name'] ?? '')}": running its pod template once${typeof replicas === 'number' && replicas !== 1 ? ` (replicas: ${replicas} ignored)` : ''}; crius run is not a controller`);
  });
  if (errors.length === 0 && !pod) errors.push(`${file}: no Pod (or Deployment) in the manifest`);
  let valid: Pod | undefined;
  if (pod) {
    const podErrors = validatePod(pod);
    for (const e of podErrors) errors.push(`${podWhere}${e}`);
    if (isValidPod(pod, podErrors)) valid = pod;
  }
  if (errors.length > 0 || !valid) {
    throw invalidArgument(`${file}: invalid manifest:\n  ${errors.join('\n  ')}`);
  }
  return { pod: valid, sources, notes };
}

/** validatePod found nothing wrong: the object is a Pod (validate.ts checks every field crius reads). */
function isValidPod(_pod: object, errors: readonly string[]): _pod is Pod {
  return errors.length === 0;
}
