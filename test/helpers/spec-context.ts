// Plain inputs for spec/ unit tests: a userns pod on crun with pinned namespaces, easy to override.
import { makeContext, type SpecContext } from '../../src/spec/context.js';
import type { ContainerConfigInput, IDMapping, ImageConfig, RuntimeContext, SandboxConfigInput } from '../../src/spec/types.js';

export const HOST_ID = 100000;
export const POD_MAPPING: IDMapping[] = [{ host_id: HOST_ID, container_id: 0, length: 65536 }];

export function runtimeContext(over: Partial<RuntimeContext> = {}): RuntimeContext {
  return {
    rootfs: '/run/crius/c1/rootfs',
    namespaces: { net: '/run/crius/ns/p1/net', ipc: '/run/crius/ns/p1/ipc', uts: '/run/crius/ns/p1/uts', pid: '/proc/42/ns/pid' },
    sandboxFiles: { hostname: '/run/crius/p1/hostname', hosts: '/run/crius/p1/hosts', resolvConf: '/run/crius/p1/resolv.conf', shm: '/run/crius/p1/shm' },
    userns: null,
    handler: { name: 'crun', idmapBind: true, idmapTmpfs: true, rro: true },
    oomScoreAdjMin: -1000,
    arch: 'x64',
    ...over,
  };
}

export const USERNS_RUNTIME: Partial<RuntimeContext> = {
  userns: { uid: { containerId: 0, hostId: HOST_ID, length: 65536 }, gid: { containerId: 0, hostId: HOST_ID, length: 65536 } },
};

export interface CtxOver {
  kind?: 'container' | 'sandbox';
  container?: ContainerConfigInput;
  sandbox?: SandboxConfigInput;
  image?: ImageConfig;
  passwd?: string;
  group?: string;
  runtime?: Partial<RuntimeContext>;
}

export function ctxOf(o: CtxOver = {}): SpecContext {
  return makeContext({
    kind: o.kind ?? 'container',
    container: o.container ?? { metadata: { name: 'c1' } },
    sandbox: o.sandbox ?? { metadata: { name: 'p1', uid: 'uid-1', namespace: 'default' }, hostname: 'p1-host' },
    image: o.image ?? { Cmd: ['/bin/sh'] },
    passwd: o.passwd,
    group: o.group,
    runtime: runtimeContext(o.runtime),
  });
}

export const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'nginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin',
  'app:x:1000:1000::/home/app:/bin/sh',
  '',
].join('\n');

export const GROUP = ['root:x:0:', 'daemon:x:1:', 'wheel:x:10:root,app', 'nginx:x:101:', 'app:x:1000:', 'video:x:44:app', 'staff:x:50:nginx', ''].join('\n');
