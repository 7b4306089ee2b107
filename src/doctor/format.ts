// `crius doctor` output: a table (status, check, detail, fix) or JSON.
import { summarize, type CheckResult } from './check.js';

const MARK: Record<CheckResult['status'], string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL' };

export function formatDoctorTable(checks: readonly CheckResult[]): string {
  const width = Math.max(5, ...checks.map((c) => c.name.length + (c.neededForUserns ? 1 : 0)));
  const lines = [`${'STATUS'.padEnd(6)} ${'CHECK'.padEnd(width)} DETAIL`];
  for (const c of checks) {
    lines.push(`${MARK[c.status].padEnd(6)} ${(c.name + (c.neededForUserns ? '*' : '')).padEnd(width)} ${c.detail}`);
    if (c.fix && c.status !== 'ok') lines.push(`${''.padEnd(6)} ${''.padEnd(width)} fix: ${c.fix}`);
  }
  const s = summarize(checks);
  lines.push('', `${s.ok} ok, ${s.warn} warnings, ${s.fail} failures. * = needed for user-namespaced pods (hostUsers: false).`);
  lines.push(s.usernsPodsCanRun
    ? 'User-namespaced pods can run on this host.'
    : `User-namespaced pods cannot run on this host: ${s.blocking.join(', ')} failed.`);
  return lines.join('\n') + '\n';
}

export function formatDoctorJson(checks: readonly CheckResult[]): string {
  return JSON.stringify({ checks, summary: summarize(checks) }, null, 2) + '\n';
}
