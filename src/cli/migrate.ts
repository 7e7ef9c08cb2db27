/** `auditline migrate`: applies pending SQL migrations and exits. */
import { Command } from 'commander';
import { loadConfig } from '../config.js';
import { createStore } from '../store/index.js';
import { action, addConnectionOptions, type ConnectionFlags, connectionOverrides } from './options.js';

/** Builds the `migrate` command. */
export function migrateCommand(): Command {
  const cmd = new Command('migrate')
    .summary('apply pending database migrations')
    .description(
      'Create the schema and apply pending numbered migrations to PostgreSQL (or to PGlite in ' +
        'embedded mode), then exit. Safe to run from several processes at once. `serve` and ' +
        '`worker` do this on start unless given --no-migrate.\n\n' +
        'The mode follows the same rule as everywhere: set both REDIS_URL and DATABASE_URL, or neither.',
    );
  addConnectionOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ auditline migrate                                # embedded: PGlite in ./auditline-data
  $ REDIS_URL=redis://localhost:6379 DATABASE_URL=postgres://localhost/app auditline migrate
  $ auditline migrate --redis-url redis://localhost:6379 \\
    --database-url postgres://localhost/app --schema audit`,
  );
  return cmd.action(
    action(async (flags: ConnectionFlags) => {
      const config = loadConfig(connectionOverrides(flags));
      // Only the store is needed: no queue connection, no logger.
      const store = createStore(config);
      try {
        await store.migrate();
      } finally {
        await store.close();
      }
      const where = config.mode === 'embedded' ? `PGlite in ${config.dataDir}` : 'PostgreSQL';
      process.stdout.write(`auditline: migrations applied (schema ${config.schema}, ${where})\n`);
    }),
  );
}
