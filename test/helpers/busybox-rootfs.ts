// A minimal rootfs for real-container tests: /bin/busybox (static) plus applet symlinks, and the empty
// directories an OCI runtime mounts onto. No image, no registry.
import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

const BUSYBOX = '/bin/busybox';

const APPLETS = [
  'sh', 'true', 'false', 'sleep', 'cat', 'echo', 'printf', 'ls', 'id', 'ps', 'pgrep', 'kill', 'head', 'tail',
  'hostname', 'sysctl', 'ip', 'ifconfig', 'nc', 'httpd', 'wget', 'dd', 'env', 'mkdir', 'touch', 'tr', 'yes',
  'grep', 'wc', 'stat', 'mount', 'ping', 'seq',
];

/** Creates `<dir>` as a busybox rootfs and returns it. */
export async function makeBusyboxRootfs(dir: string): Promise<string> {
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc', 'root', 'var/www']) {
    await mkdir(path.join(dir, d), { recursive: true });
  }
  await copyFile(BUSYBOX, path.join(dir, 'bin/busybox'));
  for (const a of APPLETS) await symlink('busybox', path.join(dir, 'bin', a)).catch(() => undefined);
  await writeFile(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  await writeFile(path.join(dir, 'etc/group'), 'root:x:0:\nnobody:x:65534:\n');
  return dir;
}
