// Validation of a v1 Pod for `crius run`: shape and the rules the API server would enforce that matter
// here (DNS-1123 names, unique container and volume names, mounts naming a volume, ports in range), each
// reported as "<field path>: <problem>". Returns every problem found; an empty list means valid.
import { parseQuantity } from './quantity.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'];

class Checker {
  readonly errors: string[] = [];
  fail(path: string, problem: string): void { this.errors.push(`${path}: ${problem}`); }

  obj(v: unknown, path: string, required: boolean): Obj | undefined {
    if (v === undefined || v === null) { if (required) this.fail(path, 'required'); return undefined; }
    if (!isObj(v)) { this.fail(path, `must be an object, got ${Array.isArray(v) ? 'a list' : typeof v}`); return undefined; }
    return v;
  }

  list(v: unknown, path: string, required = false): unknown[] {
    if (v === undefined || v === null) { if (required) this.fail(path, 'required'); return []; }
    if (!Array.isArray(v)) { this.fail(path, `must be a list, got ${typeof v}`); return []; }
    return v;
  }

  str(v: unknown, path: string, required: boolean): string | undefined {
    if (v === undefined || v === null || v === '') { if (required) this.fail(path, 'required'); return undefined; }
    if (typeof v !== 'string') { this.fail(path, `must be a string, got ${typeof v}${typeof v === 'number' ? ' (quote it)' : ''}`); return undefined; }
    return v;
  }

  strList(v: unknown, path: string): void {
    this.list(v, path).forEach((s, i) => { if (typeof s !== 'string') this.fail(`${path}[${i}]`, `must be a string, got ${typeof s}${typeof s === 'number' ? ' (quote it)' : ''}`); });
  }

  bool(v: unknown, path: string): void {
    if (v !== undefined && v !== null && typeof v !== 'boolean') this.fail(path, `must be true or false, got ${JSON.stringify(v)}`);
  }

  int(v: unknown, path: string, min: number, max: number, required = false): number | undefined {
    if (v === undefined || v === null) { if (required) this.fail(path, 'required'); return undefined; }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) { this.fail(path, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`); return undefined; }
    return v;
  }

  oneOf(v: unknown, path: string, allowed: readonly string[]): void {
    if (v === undefined || v === null) return;
    if (typeof v !== 'string' || !allowed.includes(v)) this.fail(path, `must be one of ${allowed.filter(Boolean).join(', ')}, got ${JSON.stringify(v)}`);
  }

  stringMap(v: unknown, path: string): void {
    const o = this.obj(v, path, false);
    for (const [k, val] of Object.entries(o ?? {})) if (typeof val !== 'string') this.fail(`${path}.${k}`, `must be a string, got ${typeof val} (quote it)`);
  }
}

function checkSecurityContext(c: Checker, v: unknown, path: string, pod: boolean): void {
  const sc = c.obj(v, path, false);
  if (!sc) return;
  c.int(sc['runAsUser'], `${path}.runAsUser`, 0, 2 ** 31 - 1);
  c.int(sc['runAsGroup'], `${path}.runAsGroup`, 0, 2 ** 31 - 1);
  c.bool(sc['runAsNonRoot'], `${path}.runAsNonRoot`);
  const sp = c.obj(sc['seccompProfile'], `${path}.seccompProfile`, false);
  if (sp) {
    c.oneOf(sp['type'], `${path}.seccompProfile.type`, ['RuntimeDefault', 'Unconfined', 'Localhost']);
    if (sp['type'] === undefined) c.fail(`${path}.seccompProfile.type`, 'required');
    if (sp['type'] === 'Localhost') c.str(sp['localhostProfile'], `${path}.seccompProfile.localhostProfile`, true);
  }
  if (pod) {
    c.list(sc['supplementalGroups'], `${path}.supplementalGroups`).forEach((g, i) => c.int(g, `${path}.supplementalGroups[${i}]`, 0, 2 ** 31 - 1));
    c.int(sc['fsGroup'], `${path}.fsGroup`, 0, 2 ** 31 - 1);
    c.list(sc['sysctls'], `${path}.sysctls`).forEach((s, i) => {
      const o = c.obj(s, `${path}.sysctls[${i}]`, true);
      if (o) { c.str(o['name'], `${path}.sysctls[${i}].name`, true); c.str(o['value'], `${path}.sysctls[${i}].value`, true); }
    });
  } else {
    c.bool(sc['readOnlyRootFilesystem'], `${path}.readOnlyRootFilesystem`);
    c.bool(sc['privileged'], `${path}.privileged`);
    c.bool(sc['allowPrivilegeEscalation'], `${path}.allowPrivilegeEscalation`);
    const caps = c.obj(sc['capabilities'], `${path}.capabilities`, false);
    if (caps) { c.strList(caps['add'], `${path}.capabilities.add`); c.strList(caps['drop'], `${path}.capabilities.drop`); }
  }
}

function checkContainer(c: Checker, v: unknown, path: string, volumes: ReadonlySet<string>, init: boolean): string | undefined {
  const ctr = c.obj(v, path, true);
  if (!ctr) return undefined;
  const name = c.str(ctr['name'], `${path}.name`, true);
  if (name !== undefined && !DNS1123_LABEL.test(name)) c.fail(`${path}.name`, `"${name}" must be a DNS-1123 label (lower-case letters, digits and "-", at most 63)`);
  if (name !== undefined && name.length > 63) c.fail(`${path}.name`, 'at most 63 characters');
  c.str(ctr['image'], `${path}.image`, true);
  c.oneOf(ctr['imagePullPolicy'], `${path}.imagePullPolicy`, ['Always', 'IfNotPresent', 'Never']);
  c.strList(ctr['command'], `${path}.command`);
  c.strList(ctr['args'], `${path}.args`);
  c.str(ctr['workingDir'], `${path}.workingDir`, false);
  c.bool(ctr['stdin'], `${path}.stdin`);
  c.bool(ctr['tty'], `${path}.tty`);
  c.list(ctr['env'], `${path}.env`).forEach((e, i) => {
    const p = `${path}.env[${i}]`;
    const o = c.obj(e, p, true);
    if (!o) return;
    c.str(o['name'], `${p}.name`, true);
    if (o['value'] !== undefined && o['value'] !== null && typeof o['value'] !== 'string') c.fail(`${p}.value`, `must be a string, got ${typeof o['value']} (quote it)`);
    const from = c.obj(o['valueFrom'], `${p}.valueFrom`, false);
    if (from) {
      if (o['value'] !== undefined) c.fail(`${p}.valueFrom`, 'may not be set together with value');
      const refs = ['configMapKeyRef', 'secretKeyRef', 'fieldRef'].filter((k) => from[k] !== undefined);
      if (refs.length !== 1) c.fail(`${p}.valueFrom`, `needs exactly one of configMapKeyRef, secretKeyRef, fieldRef (resourceFieldRef is not supported by crius run), got ${refs.length}`);
      for (const k of ['configMapKeyRef', 'secretKeyRef']) {
        const r = c.obj(from[k], `${p}.valueFrom.${k}`, false);
        if (r) { c.str(r['name'], `${p}.valueFrom.${k}.name`, true); c.str(r['key'], `${p}.valueFrom.${k}.key`, true); }
      }
      const f = c.obj(from['fieldRef'], `${p}.valueFrom.fieldRef`, false);
      if (f) c.oneOf(f['fieldPath'], `${p}.valueFrom.fieldRef.fieldPath`, ['metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName', 'status.podIP', 'status.hostIP']);
    }
  });
  c.list(ctr['envFrom'], `${path}.envFrom`).forEach((e, i) => {
    const o = c.obj(e, `${path}.envFrom[${i}]`, true);
    if (!o) return;
    const refs = ['configMapRef', 'secretRef'].filter((k) => o[k] !== undefined);
    if (refs.length !== 1) c.fail(`${path}.envFrom[${i}]`, 'needs exactly one of configMapRef, secretRef');
    for (const k of refs) { const r = c.obj(o[k], `${path}.envFrom[${i}].${k}`, true); if (r) c.str(r['name'], `${path}.envFrom[${i}].${k}.name`, true); }
  });
  c.list(ctr['ports'], `${path}.ports`).forEach((pt, i) => {
    const p = `${path}.ports[${i}]`;
    const o = c.obj(pt, p, true);
    if (!o) return;
    c.int(o['containerPort'], `${p}.containerPort`, 1, 65535, true);
    c.int(o['hostPort'], `${p}.hostPort`, 1, 65535);
    c.oneOf(o['protocol'], `${p}.protocol`, ['TCP', 'UDP', 'SCTP']);
    c.str(o['hostIP'], `${p}.hostIP`, false);
    if (init && o['hostPort'] !== undefined) c.fail(`${p}.hostPort`, 'init containers may not publish host ports');
  });
  const res = c.obj(ctr['resources'], `${path}.resources`, false);
  if (res) {
    for (const kind of ['limits', 'requests']) {
      const l = c.obj(res[kind], `${path}.resources.${kind}`, false);
      for (const [k, q] of Object.entries(l ?? {})) {
        const p = `${path}.resources.${kind}.${k}`;
        if (k !== 'cpu' && k !== 'memory' && k !== 'ephemeral-storage') { c.fail(p, 'crius run supports cpu and memory'); continue; }
        if (typeof q !== 'string' && typeof q !== 'number') { c.fail(p, `must be a quantity such as "500m" or "128Mi", got ${JSON.stringify(q)}`); continue; }
        try { parseQuantity(q, k === 'cpu' ? 'cpu' : 'bytes'); } catch (err) { c.fail(p, (err as Error).message); }
      }
    }
  }
  const mountPaths = new Set<string>();
  c.list(ctr['volumeMounts'], `${path}.volumeMounts`).forEach((m, i) => {
    const p = `${path}.volumeMounts[${i}]`;
    const o = c.obj(m, p, true);
    if (!o) return;
    const vn = c.str(o['name'], `${p}.name`, true);
    if (vn !== undefined && !volumes.has(vn)) c.fail(`${p}.name`, `no volume named "${vn}" in spec.volumes${volumes.size ? ` (have: ${[...volumes].join(', ')})` : ''}`);
    const mp = c.str(o['mountPath'], `${p}.mountPath`, true);
    if (mp !== undefined && !mp.startsWith('/')) c.fail(`${p}.mountPath`, `must be an absolute path, got "${mp}"`);
    if (mp !== undefined && mountPaths.has(mp)) c.fail(`${p}.mountPath`, `"${mp}" is mounted twice`);
    if (mp !== undefined) mountPaths.add(mp);
    c.bool(o['readOnly'], `${p}.readOnly`);
    const sub = c.str(o['subPath'], `${p}.subPath`, false);
    if (sub !== undefined && (sub.startsWith('/') || sub.split('/').includes('..'))) c.fail(`${p}.subPath`, `must be a relative path without "..", got "${sub}"`);
  });
  checkSecurityContext(c, ctr['securityContext'], `${path}.securityContext`, false);
  return name;
}

function checkVolume(c: Checker, v: unknown, path: string): string | undefined {
  const vol = c.obj(v, path, true);
  if (!vol) return undefined;
  const name = c.str(vol['name'], `${path}.name`, true);
  if (name !== undefined && !DNS1123_LABEL.test(name)) c.fail(`${path}.name`, `"${name}" must be a DNS-1123 label`);
  const kinds = Object.keys(vol).filter((k) => k !== 'name');
  const supported = ['hostPath', 'emptyDir', 'configMap', 'secret'];
  if (kinds.length !== 1) { c.fail(path, `needs exactly one volume source (${supported.join(', ')}), got ${kinds.length ? kinds.join(', ') : 'none'}`); return name; }
  const kind = kinds[0]!;
  if (!supported.includes(kind)) { c.fail(`${path}.${kind}`, `volume type not supported by crius run (supported: ${supported.join(', ')})`); return name; }
  const src = c.obj(vol[kind], `${path}.${kind}`, kind !== 'emptyDir');
  if (!src && kind !== 'emptyDir') return name;
  const p = `${path}.${kind}`;
  if (kind === 'hostPath') {
    const hp = c.str(src!['path'], `${p}.path`, true);
    if (hp !== undefined && !hp.startsWith('/')) c.fail(`${p}.path`, `must be an absolute path, got "${hp}"`);
    c.oneOf(src!['type'], `${p}.type`, HOST_PATH_TYPES);
  } else if (kind === 'emptyDir') {
    if (src) {
      c.oneOf(src['medium'], `${p}.medium`, ['', 'Memory']);
      if (src['sizeLimit'] !== undefined) {
        try { parseQuantity(src['sizeLimit'] as string, 'bytes'); } catch (err) { c.fail(`${p}.sizeLimit`, (err as Error).message); }
      }
    }
  } else {
    c.str(src![kind === 'secret' ? 'secretName' : 'name'], `${p}.${kind === 'secret' ? 'secretName' : 'name'}`, true);
    c.int(src!['defaultMode'], `${p}.defaultMode`, 0, 0o777);
    c.bool(src!['optional'], `${p}.optional`);
    c.list(src!['items'], `${p}.items`).forEach((it, i) => {
      const o = c.obj(it, `${p}.items[${i}]`, true);
      if (!o) return;
      c.str(o['key'], `${p}.items[${i}].key`, true);
      const ip = c.str(o['path'], `${p}.items[${i}].path`, true);
      if (ip !== undefined && (ip.startsWith('/') || ip.split('/').includes('..'))) c.fail(`${p}.items[${i}].path`, `must be a relative path without "..", got "${ip}"`);
      c.int(o['mode'], `${p}.items[${i}].mode`, 0, 0o777);
    });
  }
  return name;
}

export function validatePod(pod: Record<string, unknown>): string[] {
  const c = new Checker();
  const meta = c.obj(pod['metadata'], 'metadata', true);
  if (meta) {
    const name = c.str(meta['name'], 'metadata.name', true);
    if (name !== undefined && (!DNS1123_SUBDOMAIN.test(name) || name.length > 253)) c.fail('metadata.name', `"${name}" must be a DNS-1123 subdomain (lower-case letters, digits, "-" and ".")`);
    const ns = c.str(meta['namespace'], 'metadata.namespace', false);
    if (ns !== undefined && !DNS1123_LABEL.test(ns)) c.fail('metadata.namespace', `"${ns}" must be a DNS-1123 label`);
    c.str(meta['uid'], 'metadata.uid', false);
    c.stringMap(meta['labels'], 'metadata.labels');
    c.stringMap(meta['annotations'], 'metadata.annotations');
  }
  const spec = c.obj(pod['spec'], 'spec', true);
  if (!spec) return c.errors;
  for (const k of ['hostUsers', 'hostNetwork', 'hostPID', 'hostIPC', 'shareProcessNamespace']) c.bool(spec[k], `spec.${k}`);
  if (spec['hostUsers'] === false) {
    // KEP-127: a pod in its own user namespace cannot share the host's network, PID or IPC namespace.
    for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) if (spec[k] === true) c.fail(`spec.${k}`, 'may not be true when spec.hostUsers is false (KEP-127)');
  }
  c.oneOf(spec['restartPolicy'], 'spec.restartPolicy', ['Always', 'OnFailure', 'Never']);
  const hn = c.str(spec['hostname'], 'spec.hostname', false);
  if (hn !== undefined && !DNS1123_LABEL.test(hn)) c.fail('spec.hostname', `"${hn}" must be a DNS-1123 label`);
  c.str(spec['runtimeClassName'], 'spec.runtimeClassName', false);
  const dns = c.obj(spec['dnsConfig'], 'spec.dnsConfig', false);
  if (dns) { c.strList(dns['nameservers'], 'spec.dnsConfig.nameservers'); c.strList(dns['searches'], 'spec.dnsConfig.searches'); }
  checkSecurityContext(c, spec['securityContext'], 'spec.securityContext', true);

  const volumes = new Set<string>();
  c.list(spec['volumes'], 'spec.volumes').forEach((v, i) => {
    const n = checkVolume(c, v, `spec.volumes[${i}]`);
    if (n === undefined) return;
    if (volumes.has(n)) c.fail(`spec.volumes[${i}].name`, `"${n}" is used twice`);
    volumes.add(n);
  });
  const names = new Set<string>();
  const hostPorts = new Set<string>();
  const check = (field: 'containers' | 'initContainers'): void => {
    const list = c.list(spec[field], `spec.${field}`, field === 'containers');
    if (field === 'containers' && Array.isArray(spec[field]) && list.length === 0) c.fail('spec.containers', 'needs at least one container');
    list.forEach((ctr, i) => {
      const path = `spec.${field}[${i}]`;
      const n = checkContainer(c, ctr, path, volumes, field === 'initContainers');
      if (n !== undefined) {
        if (names.has(n)) c.fail(`${path}.name`, `"${n}" is used by another container of this pod`);
        names.add(n);
      }
      for (const [j, p] of (isObj(ctr) && Array.isArray(ctr['ports']) ? ctr['ports'] : []).entries()) {
        if (!isObj(p) || typeof p['hostPort'] !== 'number') continue;
        const key = `${String(p['protocol'] ?? 'TCP')}/${String(p['hostIP'] ?? '')}/${p['hostPort']}`;
        if (hostPorts.has(key)) c.fail(`${path}.ports[${j}].hostPort`, `${p['hostPort']} is published twice`);
        hostPorts.add(key);
      }
    });
  };
  check('initContainers');
  check('containers');
  return c.errors;
}
