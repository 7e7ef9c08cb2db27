/** `auditline serve`: the HTTP ingest and query API (plus a worker in embedded mode). */
import { Command, Option } from 'commander';
import { loadConfig } from '../config.js';
import { assertSafeBind, startServer } from '../http/server.js';
import { createRuntime } from '../runtime.js';
import {
  action,
  addConnectionOptions,
  type ConnectionFlags,
  connectionOverrides,
  intArg,
  migrateOverride,
} from './options.js';

interface ServeFlags extends ConnectionFlags {
  host?: string;
  port?: number;
  migrate?: boolean;
  withWorker?: boolean;
}

/** Builds the `serve` command. */
export function serveCommand(): Command {
  const cmd = new Command('serve')
    .summary('run the HTTP API (POST/GET /v1/events, /healthz, /readyz)')
    .description(
      'Run the HTTP API: POST /v1/events (one event or an array of up to 1,000), GET /v1/events ' +
        '(filters and cursor), GET /healthz and GET /readyz.\n\n' +
        'With neither REDIS_URL nor DATABASE_URL set it runs embedded: an in-process queue and ' +
        'PGlite under the data directory, with a worker in the same process. It binds 127.0.0.1 ' +
        'by default and refuses a non-loopback address unless AUDITLINE_API_KEYS is set; with ' +
        'keys, every /v1 route requires "Authorization: Bearer <key>".',
    )
    .option('--host <address>', 'address to bind (env AUDITLINE_HOST, default 127.0.0.1)')
    .option('--port <n>', 'port to listen on (env PORT, default 3000)', intArg)
    .option('--no-migrate', 'do not run database migrations on start (env AUDITLINE_AUTO_MIGRATE)')
    .addOption(new Option('--with-worker', 'also run a worker in this process (always on in embedded mode)'));
  addConnectionOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ auditline serve                                  # embedded, http://127.0.0.1:3000
  $ auditline serve --port 8080 --data-dir /var/lib/auditline
  $ REDIS_URL=redis://localhost:6379 DATABASE_URL=postgres://localhost/app \\
    AUDITLINE_API_KEYS=secret1,secret2 auditline serve --host 0.0.0.0
  $ curl -X POST http://127.0.0.1:3000/v1/events -H 'content-type: application/json' \\
    -d '{"event_type":"document.update","user_id":"u1","resource_type":"document","resource_id":"42"}'`,
  );
  return cmd.action(
    action(async (flags: ServeFlags) => {
      const config = loadConfig({
        ...connectionOverrides(flags),
        ...migrateOverride(flags),
        ...(flags.host !== undefined ? { host: flags.host } : {}),
        ...(flags.port !== undefined ? { port: flags.port } : {}),
      });
      // Checked before connecting or migrating anything: a refused bind should have no side effects.
      assertSafeBind(config);
      // The runtime runs the worker in embedded mode, and in distributed mode when asked.
      const runtime = await createRuntime(config, {
        ...(flags.withWorker ? { worker: true } : {}),
        metrics: { role: 'server' },
      });
      let server: Awaited<ReturnType<typeof startServer>>;
      try {
        server = await startServer(runtime);
      } catch (err) {
        await runtime.close().catch(() => {});
        throw err;
      }
      const where = config.mode === 'embedded' ? `embedded, data in ${config.dataDir}` : 'distributed';
      process.stdout.write(`auditline: listening on ${server.url} (${where})\n`);
      await server.closed;
      process.stdout.write('auditline: stopped\n');
    }),
  );
}
