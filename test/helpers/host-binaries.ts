// The runtimes and conmon the integration tests drive: wherever setup put them (see src/common/host-binaries.ts).
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { locateHostBinary } from '../../src/common/host-binaries.js';

export const CRUN = locateHostBinary('crun');
export const RUNC = locateHostBinary('runc');
export const CONMON = locateHostBinary('conmon');

/**
 * Why tests that need runc >= 1.2 (idmapped mounts) cannot run on this host, or undefined when they can.
 * Debian 12's runc is 1.1; setup builds a newer one into /usr/local/sbin when it can.
 */
function runcSkipReason(): string | undefined {
  if (!existsSync(RUNC)) return `runc not installed (looked in /usr/local/{bin,sbin} and /usr/{bin,sbin})`;
  let out = '';
  try {
    out = execFileSync(RUNC, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  } catch (err) {
    return `${RUNC} --version failed: ${(err as Error).message}`;
  }
  const m = /runc version (\d+)\.(\d+)/.exec(out);
  if (!m) return `${RUNC} --version printed no version: ${out.slice(0, 80)}`;
  if (Number(m[1]) < 1 || (Number(m[1]) === 1 && Number(m[2]) < 2)) return `${RUNC} is ${m[0]}; idmapped mounts need runc >= 1.2`;
  return undefined;
}

/** The handlers tests run on: crun always, runc with the reason it is skipped when it cannot run. */
export const HANDLERS: { name: 'crun' | 'runc'; skip: string | undefined }[] = [
  { name: 'crun', skip: undefined },
  { name: 'runc', skip: runcSkipReason() },
];

/**
 * crictl for the crictl-based tests: $CRICTL, else crictl on PATH (.ci/run installs it from
 * ../shared/cri-tools), else /tmp/crictl. The tests skip, saying so, when none exists.
 */
export function crictlPath(): string {
  if (process.env['CRICTL']) return process.env['CRICTL'];
  for (const dir of (process.env['PATH'] ?? '').split(':').filter(Boolean)) {
    if (existsSync(`${dir}/crictl`)) return `${dir}/crictl`;
  }
  return '/tmp/crictl';
}
