/**
 * `auditline stats`: a live terminal view of the deployment (health, queue, rates, workers,
 * alerts), refreshed every second; `--once` prints one JSON snapshot and exits.
 */
import { Command } from 'commander';
import { loadConfig } from '../config.js';
import { type AuditMetricsResponse, ProcessMetrics } from '../metrics/index.js';
import { createQueue } from '../queue/index.js';
import { createStore } from '../store/index.js';
import {
  action,
  addConnectionOptions,
  type ConnectionFlags,
  connectionOverrides,
  intArg,
} from './options.js';

interface StatsFlags extends ConnectionFlags {
  once?: boolean;
  intervalMs?: number;
}

const fmt = (n: number | null) => (n === null ? '-' : n.toLocaleString('en-US'));

/** Renders one reading as the terminal screen. */
export function renderStats(r: AuditMetricsResponse): string {
  const m = r.metrics;
  const lines = [
    `auditline stats  ${r.timestamp}`,
    '',
    `health      ${r.health.status.toUpperCase()}`,
    ...r.health.issues.map((i) => `  [${i.severity}] ${i.rule}: ${i.message}`),
    '',
    `queue       depth ${fmt(m.queueLength)}  pending ${fmt(m.pendingEntries)}  lag ${fmt(m.consumerLag)}  ` +
      `oldest pending ${m.oldestPendingAgeMs === null ? '-' : `${fmt(m.oldestPendingAgeMs)} ms`}`,
    `rates/min   inserts ${fmt(m.insertsLastMinute)}  failures ${fmt(m.failuresLastMinute)}  ` +
      `avg batch ${fmt(m.avgBatchSize)} events / ${fmt(m.avgBatchTime)} ms  commit lag max ${fmt(m.maxCommitLagMs)} ms`,
    `totals      inserted ${fmt(m.insertedTotal)}  dropped ${fmt(m.droppedEvents)}  direct ${fmt(m.directEvents)}  ` +
      `spilled ${fmt(m.spilledEvents)}  dead letters ${fmt(m.deadLetters)}  retries ${fmt(m.retriesTotal)}`,
    `journal     backlog ${fmt(m.journalBacklog)} events  ${fmt(m.journalBytes)} bytes  oldest ` +
      `${m.oldestJournalRecordAgeMs === null ? '-' : `${fmt(m.oldestJournalRecordAgeMs)} ms`}  ` +
      `replayed ${fmt(m.replayedTotal)}  dropped/min ${fmt(m.droppedLastMinute)}`,
    '',
    `workers     ${m.liveWorkers} live`,
    ...r.workers.map(
      (w) =>
        `  ${w.name.padEnd(28)} pid ${String(w.pid).padEnd(7)} beat ${fmt(w.heartbeatAgeMs)} ms ago  ` +
        `inserted ${fmt(w.inserted)}  ${fmt(w.insertsLastMinute)}/min`,
    ),
    ...r.producers.map(
      (p) => `  ${p.name.padEnd(28)} ${p.role} pid ${p.pid}  beat ${fmt(p.heartbeatAgeMs)} ms ago`,
    ),
    '',
    `alerts      ${r.alerts.length === 0 ? 'none' : ''}`,
    ...r.alerts.map(
      (a) => `  [${a.severity}] ${a.rule} since ${new Date(a.startedAt).toISOString()}: ${a.message}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/** Builds the `stats` command. */
export function statsCommand(): Command {
  const cmd = new Command('stats')
    .summary('live view of health, queue depth, rates, workers and alerts')
    .description(
      'Show the deployment as every worker and server reports it: health (the most severe\n' +
        'finding), queue depth and lag, inserts and failures per minute, workers with their\n' +
        'heartbeat age, and the alerts that are on. Refreshes until Ctrl-C; --once prints one\n' +
        'JSON snapshot (the body of GET /api/monitoring/audit-metrics) and exits.\n\n' +
        'Reads Redis and PostgreSQL directly (distributed mode). In embedded mode the metrics\n' +
        'live inside the `auditline serve` process: query its /api/monitoring/audit-metrics.',
    )
    .option('--once', 'print one JSON snapshot and exit')
    .option('--interval-ms <n>', 'refresh period of the live view (default 1000)', intArg);
  addConnectionOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ REDIS_URL=redis://localhost:6379 DATABASE_URL=postgres://localhost/app auditline stats
  $ auditline stats --once --redis-url redis://localhost:6379 --database-url postgres://localhost/app | jq .health`,
  );
  return cmd.action(
    action(async (flags: StatsFlags) => {
      const config = loadConfig(connectionOverrides(flags));
      // Observe only: no migration, no init (which would create the stream), no publishing.
      const queue = createQueue(config);
      const store = createStore(config);
      const metrics = new ProcessMetrics(config, { queue, database: store });
      try {
        if (flags.once) {
          process.stdout.write(`${JSON.stringify(await metrics.reader.auditMetrics(), null, 2)}\n`);
          return;
        }
        const intervalMs = flags.intervalMs ?? 1000;
        let stop = false;
        const onSignal = () => {
          stop = true;
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        while (!stop) {
          const screen = renderStats(await metrics.reader.auditMetrics());
          // Clear and home the cursor, then draw: one write, so the screen does not flicker.
          process.stdout.write(`\x1b[2J\x1b[H${screen}`);
          await new Promise((r) => setTimeout(r, intervalMs));
        }
      } finally {
        await metrics.close();
        await queue.close();
        await store.close();
      }
    }),
  );
}
