/**
 * PM2 deployment of auditline in distributed mode: one HTTP ingest server and 4 workers
 * draining the Redis stream into PostgreSQL (the seed plan's 4 PM2 workers).
 *
 *   npm run build
 *   REDIS_URL=redis://127.0.0.1:6379 DATABASE_URL=postgres://user@127.0.0.1/app \
 *     npx pm2 start ecosystem.config.cjs
 *   npx pm2 save          # restore this process list on reboot (with `pm2 startup`)
 *
 * Environment: PM2 hands every process the environment of the `pm2 start` command, so
 * REDIS_URL and DATABASE_URL (both required: a worker refuses embedded mode), PORT,
 * AUDITLINE_SCHEMA, AUDITLINE_KEY_PREFIX, AUDITLINE_API_KEYS, … are read from there by
 * auditline's own configuration. Change them with `pm2 restart ecosystem.config.cjs
 * --update-env`. Two variables are read here, by this file:
 *
 * - AUDITLINE_LOG_DIR: where the log files go (default ./logs next to this file).
 * - AUDITLINE_SHUTDOWN_TIMEOUT_MS: the workers' drain time, from which `kill_timeout` is
 *   derived so the two cannot drift apart.
 *
 * `.cjs` because PM2 loads its config with require(), and this package is ESM.
 */
const path = require('node:path');

const CLI = path.join(__dirname, 'dist', 'cli', 'main.js');
const LOG_DIR = path.resolve(__dirname, process.env.AUDITLINE_LOG_DIR || 'logs');

// Must match the default of AUDITLINE_SHUTDOWN_TIMEOUT_MS in src/config.ts.
const shutdownTimeoutMs = Number(process.env.AUDITLINE_SHUTDOWN_TIMEOUT_MS) || 8000;

/** Settings both apps share; each one says why. */
const common = {
  script: CLI,
  // Relative paths (./auditline-data, logs) resolve against the package, not against
  // wherever `pm2 start` happened to be run.
  cwd: __dirname,
  // Fork, not cluster: workers listen on no port, so PM2's cluster module (which shares a
  // listening socket) buys nothing, and forks are plain `node dist/cli/main.js` processes
  // that receive signals directly.
  exec_mode: 'fork',
  autorestart: true,
  // Restarting on file changes would interrupt batches in production for no reason.
  watch: false,
  // A process that dies within min_uptime of starting counts as an unstable restart; after
  // max_restarts of those in a row PM2 gives up (status "errored") instead of hammering
  // Redis and PostgreSQL in a crash loop, e.g. with a wrong DATABASE_URL.
  min_uptime: '10s',
  max_restarts: 10,
  // Restart delays grow exponentially from 200 ms (PM2 caps them at 15 s and resets after
  // 30 s of uptime): quick recovery from a one-off crash, backing off while a dependency is
  // down. It replaces a fixed restart_delay, which would be either too slow or too eager.
  exp_backoff_restart_delay: 200,
  // Exit code 2 is a configuration error (see `auditline --help`): restarting cannot fix
  // it, so stop and let the logs say why.
  stop_exit_codes: [2],
  // On stop PM2 sends SIGINT, then SIGKILL after kill_timeout. The worker spends up to
  // shutdownTimeoutMs finishing its batch (write, integrity block, ack), then closes its
  // connections; the margin covers that close. A SIGKILL mid-batch loses nothing (the
  // entries stay pending and are reclaimed), but they are delayed by the visibility
  // timeout and written again (deduplicated by id), so let the drain finish.
  kill_timeout: shutdownTimeoutMs + 4000,
  // A leak becomes a graceful restart (same signal, same drain) instead of an OOM kill.
  max_memory_restart: '500M',
  // One file per app rather than one per instance: the 4 workers log little (start, stop,
  // errors), and each line carries its time.
  merge_logs: true,
  log_date_format: 'YYYY-MM-DD HH:mm:ss.SSS Z',
};

module.exports = {
  apps: [
    {
      ...common,
      name: 'auditline-server',
      // POST /v1/events, GET /v1/events, health. In distributed mode it only enqueues; the
      // workers below write. Listens on PORT (default 3000) at AUDITLINE_HOST (127.0.0.1).
      args: 'serve',
      instances: 1,
      out_file: path.join(LOG_DIR, 'auditline-server.out.log'),
      error_file: path.join(LOG_DIR, 'auditline-server.error.log'),
    },
    {
      ...common,
      name: 'auditline-worker',
      args: 'worker',
      // Four consumers in the `workers` group share the stream; each entry goes to one of
      // them. Each needs a distinct consumer name: under PM2 the default is
      // `<hostname>-<NODE_APP_INSTANCE>` (0-3 here), stable across restarts, so a restarted
      // worker keeps its name, its pending entries and its metrics key (see
      // defaultConsumerName in src/config.ts). Do not give two PM2 apps on one host workers
      // of the same stream without setting AUDITLINE_CONSUMER_NAME: instance numbers repeat
      // per app, and two live consumers must never share a name.
      instances: 4,
      out_file: path.join(LOG_DIR, 'auditline-worker.out.log'),
      error_file: path.join(LOG_DIR, 'auditline-worker.error.log'),
    },
  ],
};
