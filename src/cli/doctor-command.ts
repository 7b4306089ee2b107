// `crius doctor [--config PATH] [--json]`: probes the host directly (no daemon needed), with the same
// config file the daemon reads. Exit 1 when a user-namespaced pod could not run here, 2 on bad usage.
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig, type Config } from '../config/config.js';
import { errorMessage } from '../common/errors.js';
import { doctorExitCode } from '../doctor/check.js';
import { formatDoctorJson, formatDoctorTable } from '../doctor/format.js';
import { runDoctor } from '../doctor/run-doctor.js';

export async function doctorCommand(o: { config?: string; json?: boolean; rest: readonly string[] }): Promise<number> {
  if (o.rest.length > 0) { process.stderr.write(`crius doctor: unexpected argument "${o.rest[0]}"\n`); return 2; }
  let config: Config;
  try {
    config = loadConfig(o.config ?? DEFAULT_CONFIG_PATH, o.config !== undefined);
  } catch (err) {
    process.stderr.write(`crius doctor: ${err instanceof ConfigError ? err.message : errorMessage(err)}\n`);
    return 2;
  }
  const checks = await runDoctor(config);
  process.stdout.write(o.json ? formatDoctorJson(checks) : formatDoctorTable(checks));
  return doctorExitCode(checks);
}
