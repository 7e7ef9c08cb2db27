/** `auditline worker`: moves events from the queue into PostgreSQL until told to stop. */
import { Command } from 'commander';
import { loadConfig } from '../config.js';
import { ConfigError } from '../core/errors.js';
import { createRuntime } from '../runtime.js';
import { Worker } from '../worker/worker.js';
import {
  action,
  addConnectionOptions,
  type ConnectionFlags,
  connectionOverrides,
  migrateOverride,
  waitForShutdownSignal,
} from './options.js';

interface WorkerFlags extends ConnectionFlags {
  consumer?: string;
  migrate?: boolean;
}

/** Builds the `worker` command. */
export function workerCommand(): Command {
  const cmd = new Command('worker')
    .summary('drain the Redis stream into PostgreSQL')
    .description(
      'Read events from the Redis stream in adaptive batches, write them to PostgreSQL ' +
        '(exactly one row per event), append an integrity block, then acknowledge them. ' +
        'Run as many workers as you like; entries held by a crashed worker are reclaimed ' +
        'after the visibility timeout. On SIGTERM/SIGINT it stops reading, commits and ' +
        'acknowledges what it holds, and exits 0.\n\n' +
        'Needs REDIS_URL and DATABASE_URL: in embedded mode the queue lives inside the ' +
        '`auditline serve` process, which runs its own worker.',
    )
    .option(
      '--consumer <name>',
      'consumer name in the group (env AUDITLINE_CONSUMER_NAME; default host-<NODE_APP_INSTANCE> under PM2, else host-pid)',
    )
    .option('--no-migrate', 'do not run database migrations on start (env AUDITLINE_AUTO_MIGRATE)');
  addConnectionOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ REDIS_URL=redis://localhost:6379 DATABASE_URL=postgres://localhost/app auditline worker
  $ auditline worker --redis-url redis://localhost:6379 --database-url postgres://localhost/app \\
    --consumer worker-1 --no-migrate`,
  );
  return cmd.action(
    action(async (flags: WorkerFlags) => {
      const config = loadConfig({
        ...connectionOverrides(flags),
        ...migrateOverride(flags),
        ...(flags.consumer !== undefined ? { consumerName: flags.consumer } : {}),
      });
      if (config.mode === 'embedded') {
        throw new ConfigError(
          'a separate worker needs REDIS_URL and DATABASE_URL; in embedded mode `auditline serve` runs the worker itself',
        );
      }
      // Publishes this worker's metrics (heartbeat) and runs alerting when a sink is configured.
      const runtime = await createRuntime(config, { metrics: { role: 'worker' }, spill: false });
      try {
        const { recorder } = runtime.metrics;
        const worker = new Worker({
          queue: runtime.queue,
          store: runtime.store,
          config,
          onFlush: recorder.onFlush,
          onError: recorder.onError,
        });
        runtime.metrics.attachWorker(worker);
        // Listen before starting, so a signal that arrives during start-up is not missed.
        const signal = waitForShutdownSignal();
        worker.start();
        process.stdout.write(`auditline: worker ${config.consumerName} started\n`);
        const received = await signal;
        process.stdout.write(`auditline: ${received} received, finishing the current batch\n`);
        await worker.stop();
      } finally {
        await runtime.close();
      }
      process.stdout.write('auditline: worker stopped\n');
    }),
  );
}
