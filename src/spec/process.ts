// The process to run: argv, environment, working directory, terminal.
import { invalidArgument } from '../common/errors.js';
import { containerName, ensureProcess, type SpecOpt } from './context.js';
import { DEFAULT_PATH_ENV } from './defaults.js';

/**
 * argv from the image's Entrypoint/Cmd and the CRI command/args, with the kubelet's rules
 * (k8s "Define a command and arguments", containerd WithProcessArgs):
 *   - CRI command set: it replaces Entrypoint, and the image's Cmd is ignored (CRI args follow it);
 *   - only CRI args set: Entrypoint + CRI args;
 *   - neither: Entrypoint + Cmd. An Entrypoint of [""] means "no entrypoint" (Dockerfile ENTRYPOINT []).
 */
export const withProcessArgs: SpecOpt = (spec, ctx) => {
  const command = ctx.container.command ?? [];
  let args = ctx.container.args ?? [];
  let entry: string[] = command;
  if (command.length === 0) {
    if (args.length === 0) args = ctx.image.Cmd ?? [];
    const ep = ctx.image.Entrypoint ?? [];
    entry = ep.length === 1 && ep[0] === '' ? [] : ep;
  }
  const argv = [...entry, ...args];
  if (argv.length === 0) {
    throw invalidArgument(
      `container "${containerName(ctx)}": no command specified: the CRI config has no command or args and the image has no Entrypoint or Cmd; set command in the container config`,
    );
  }
  ensureProcess(spec).args = argv;
};

function envKey(kv: string): string {
  const i = kv.indexOf('=');
  return i < 0 ? kv : kv.slice(0, i);
}

/** Sets or replaces KEY=value entries in env, keeping the first position of each key. */
export function mergeEnv(env: string[], entries: readonly string[]): string[] {
  const out = [...env];
  for (const kv of entries) {
    const key = envKey(kv);
    const i = out.findIndex((e) => envKey(e) === key);
    if (i >= 0) out[i] = kv;
    else out.push(kv);
  }
  return out;
}

/**
 * Environment: PATH default, HOSTNAME, the image's Env, then the CRI envs (the CRI wins on a clash,
 * as in containerd and CRI-O). TERM=xterm for a tty unless set.
 */
export const withEnv: SpecOpt = (spec, ctx) => {
  const p = ensureProcess(spec);
  let env = mergeEnv(p.env ?? [], [DEFAULT_PATH_ENV]);
  const hostname = ctx.runtime.podHostname ?? ctx.sandbox.hostname;
  if (hostname) env = mergeEnv(env, [`HOSTNAME=${hostname}`]);
  env = mergeEnv(env, ctx.image.Env ?? []);
  if (ctx.container.tty && !env.some((e) => envKey(e) === 'TERM')) env.push('TERM=xterm');
  const text = (v: string | Uint8Array): string => (typeof v === 'string' ? v : new TextDecoder().decode(v));
  env = mergeEnv(env, (ctx.container.envs ?? []).map((kv) => `${kv.key}=${text(kv.value)}`));
  p.env = env;
};

/** The CRI working_dir, else the image's WorkingDir, else "/". */
export const withWorkingDir: SpecOpt = (spec, ctx) => {
  const cwd = ctx.container.working_dir || ctx.image.WorkingDir || '/';
  if (!cwd.startsWith('/')) {
    throw invalidArgument(`container "${containerName(ctx)}": working_dir "${cwd}" is not an absolute path; use a path starting with /`);
  }
  ensureProcess(spec).cwd = cwd;
};

/** process.terminal follows the CRI tty. Stdin needs nothing in the spec: conmon holds the pipe. */
export const withTerminal: SpecOpt = (spec, ctx) => {
  ensureProcess(spec).terminal = ctx.container.tty === true;
};
