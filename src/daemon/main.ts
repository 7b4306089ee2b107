// criusd: parse flags, load config, open the store, wire the services, serve CRI on the socket.
import { daemonNodeFlags, nativeBuildPath } from '../common/install-root.js';
import { existsSync } from 'node:fs';
import { useSpawner } from '../common/exec.js';
import { Spawner } from '../common/spawner.js';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig, type Config } from '../config/config.js';
import { createLogger, type Logger } from '../common/logger.js';
import { openDb, type Db } from '../store/db.js';
import { FeaturesCache } from '../oci/features.js';
import { readKernelFacts } from '../common/kernel.js';
import { logHostSummary } from '../doctor/host-summary.js';
import { startCriServer, type CriHandlers, type CriServer } from '../cri/server.js';
import { makeVersionHandler, readHandlers } from '../cri/runtime-info.js';
import { buildHandlers } from './wiring.js';
import { applyPrivateState } from './private-state.js';
import { criusVersion } from './version.js';
import { errorMessage } from '../common/errors.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { notifyReady } from './sd-notify.js';

const USAGE = `usage: criusd [--config PATH] [--socket PATH] [--root DIR] [--state DIR] [--log-level debug|info|warn|error]

  --config     TOML config file (default ${DEFAULT_CONFIG_PATH}; absent default file means built-in defaults)
  --socket     CRI unix socket (default /run/crius/crius.sock)
  --root       persistent state: database, images, layers (default /var/lib/crius)
  --state      volatile state: pinned namespaces, bundles, exit files (default /run/crius)
  --log-level  default info`;

interface Daemon {
  config: Config;
  db: Db;
  server: CriServer;
  logger: Logger;
  stop(): Promise<void>;
}

/** The flags of bin/criusd.node-flags this process was not started with (none if the file cannot be read). */
function missingNodeFlags(): string[] {
  let wanted: string[];
  try {
    wanted = daemonNodeFlags();
  } catch {
    return [];
  }
  return wanted.filter((f) => !process.execArgv.includes(f));
}

async function startDaemon(config: Config, logger: Logger): Promise<Daemon> {
  const t0 = performance.now();
  const features = new FeaturesCache();
  const kernel = readKernelFacts();
  const version = criusVersion();
  // The socket is served first: Version answers at once (the kubelet's first question), every other RPC
  // waits until the services are wired, which includes recovering the pods and containers of a previous
  // run, so no lifecycle RPC sees a half-recovered state.
  let wiringDone!: (h: CriHandlers) => void;
  let wiringFailed!: (err: unknown) => void;
  const handlers = new Promise<CriHandlers>((resolve, reject) => { wiringDone = resolve; wiringFailed = reject; });
  const server = await startCriServer(config.socket, handlers, logger, { Version: makeVersionHandler(version) });
  // Status needs every handler's `features` (two runtime spawns each): read them while the rest starts.
  void readHandlers({ config, features }).catch(() => undefined);
  let db: Db | undefined;
  let wired: Awaited<ReturnType<typeof buildHandlers>>;
  try {
    applyPrivateState(config.rootDir, config.stateDir, logger);
    db = openDb(join(config.rootDir, 'crius.db'));
    await logHostSummary(logger);
    wired = await buildHandlers({ config, db, features, kernel, logger, version });
  } catch (err) {
    wiringFailed(err);
    await server.shutdown(0);
    db?.close();
    throw err;
  }
  let metricsServer: MetricsServer | undefined;
  try {
    metricsServer = await startMetricsServer(wired.metrics.registry, config.metrics.address, config.metrics.port, logger.child({ module: 'metrics' }));
  } catch (err) {
    const failure = new Error(`cannot serve metrics on ${config.metrics.address}:${config.metrics.port}: ${errorMessage(err)}; choose another [metrics] port, or 0 to disable`);
    wiringFailed(failure);
    await server.shutdown(0);
    await wired.close();
    db.close();
    throw failure;
  }
  wiringDone(wired.handlers);
  const missingFlags = missingNodeFlags();
  if (missingFlags.length > 0) {
    logger.warn('criusd was started without its Node flags (bin/criusd.node-flags): it will use more memory on a busy node', { missing: missingFlags.join(' '), start_with: `node ${missingFlags.join(' ')} bin/criusd.js` });
  }
  logger.info('serving CRI', { socket: config.socket, root: config.rootDir, state: config.stateDir, startup_ms: Math.round(performance.now() - t0), version });
  await notifyReady(logger);
  let stopping: Promise<void> | undefined;
  return {
    config, db, server, logger,
    stop: () => {
      stopping ??= (async () => {
        await server.shutdown(10_000);
        await metricsServer?.close();
        await wired.close();
        db.close();
      })();
      return stopping;
    },
  };
}

export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        socket: { type: 'string' },
        root: { type: 'string' },
        state: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    process.stderr.write(`criusd: ${errorMessage(err)}\n${USAGE}\n`);
    return 2;
  }
  if (args.values.help) { process.stdout.write(USAGE + '\n'); return 0; }
  if (args.values.version) { process.stdout.write(`criusd ${criusVersion()}\n`); return 0; }
  let config: Config;
  try {
    config = loadConfig(args.values.config ?? DEFAULT_CONFIG_PATH, args.values.config !== undefined, {
      socket: args.values.socket, rootDir: args.values.root, stateDir: args.values.state, logLevel: args.values['log-level'],
    });
  } catch (err) {
    process.stderr.write(`criusd: ${err instanceof ConfigError ? err.message : errorMessage(err)}\n`);
    return 2;
  }
  const logger = createLogger(config.logLevel);
  let daemon: Daemon;
  try {
    daemon = await startDaemon(config, logger);
  } catch (err) {
    process.stderr.write(`criusd: ${errorMessage(err)}\n`);
    return 1;
  }
  // After start-up: on a cgroup v2 host the daemon may have just moved itself into a leaf cgroup
  // (prepareV2Subtree), and the spawner must start there too, not stay behind in the parent.
  const spawner = startSpawner(logger);
  // A request never crashes the daemon: log what escaped, keep serving.
  process.on('uncaughtException', (err) => logger.error('uncaught exception', { error: err.message, stack: err.stack }));
  process.on('unhandledRejection', (err) => logger.error('unhandled rejection', { error: errorMessage(err), stack: err instanceof Error ? err.stack : undefined }));
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      logger.info('shutting down', { signal: sig, in_flight: daemon.server.inFlight() });
      daemon.stop().then(resolve, (err: unknown) => { logger.error('shutdown failed', { error: errorMessage(err) }); resolve(); });
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  spawner?.close();
  logger.info('stopped');
  return 0;
}

/**
 * The daemon's commands (common/exec.ts run()) start from native/crius-spawner, so they do not fork the
 * daemon (common/spawner.ts); without the binary they start from the daemon itself, as before.
 */
function startSpawner(logger: Logger): Spawner | undefined {
  const path = nativeBuildPath('crius-spawner');
  if (!existsSync(path)) {
    logger.warn('crius-spawner is missing: commands fork the daemon itself (slower with many pods); build it with make -C native', { path });
    return undefined;
  }
  const s = new Spawner(path, (why) => logger.error('crius-spawner stopped: commands fork the daemon itself from now on', { error: why }));
  logger.debug('crius-spawner started', { pid: s.pid });
  useSpawner(s);
  return s;
}
