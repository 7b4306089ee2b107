// One line of `crius doctor`: what was checked, how it went, what was seen, and what to do about it.
// `neededForUserns` marks the checks without which a user-namespaced pod (hostUsers: false) cannot run
// on this host; any of those failing makes `crius doctor` exit 1.

type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do; empty when nothing needs doing. */
  fix: string;
  neededForUserns: boolean;
}

export const ok = (name: string, detail: string, neededForUserns = false): CheckResult =>
  ({ name, status: 'ok', detail, fix: '', neededForUserns });

export const warn = (name: string, detail: string, fix: string, neededForUserns = false): CheckResult =>
  ({ name, status: 'warn', detail, fix, neededForUserns });

export const fail = (name: string, detail: string, fix: string, neededForUserns = false): CheckResult =>
  ({ name, status: 'fail', detail, fix, neededForUserns });

export interface DoctorSummary {
  ok: number;
  warn: number;
  fail: number;
  /** False when any check needed for user-namespaced pods failed. */
  usernsPodsCanRun: boolean;
  /** The checks that block user-namespaced pods. */
  blocking: string[];
}

export function summarize(checks: readonly CheckResult[]): DoctorSummary {
  const blocking = checks.filter((c) => c.neededForUserns && c.status === 'fail').map((c) => c.name);
  return {
    ok: checks.filter((c) => c.status === 'ok').length,
    warn: checks.filter((c) => c.status === 'warn').length,
    fail: checks.filter((c) => c.status === 'fail').length,
    usernsPodsCanRun: blocking.length === 0,
    blocking,
  };
}

/** 1 when a user-namespaced pod could not run here, else 0 (warnings and unrelated failures do not count). */
export const doctorExitCode = (checks: readonly CheckResult[]): number => (summarize(checks).usernsPodsCanRun ? 0 : 1);
