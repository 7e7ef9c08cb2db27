#!/usr/bin/env node
/**
 * The `auditline` command. Thin: parses arguments, builds the configuration through
 * `loadConfig`, and calls the library. One module per command, listed in {@link COMMANDS}.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { benchCommand } from './bench.js';
import { checkpointCommand } from './checkpoint.js';
import { dlqCommand } from './dlq.js';
import { journalCommand } from './journal.js';
import { keysCommand } from './keys.js';
import { migrateCommand } from './migrate.js';
import { reportError } from './options.js';
import { retentionCommand } from './retention.js';
import { serveCommand } from './serve.js';
import { statsCommand } from './stats.js';
import { verifyCommand, verifyProofCommand } from './verify.js';
import { workerCommand } from './worker.js';

/** The command registry: one module per command, each exporting a factory. */
const COMMANDS: ReadonlyArray<() => Command> = [
  serveCommand,
  workerCommand,
  migrateCommand,
  statsCommand,
  dlqCommand,
  journalCommand,
  keysCommand,
  verifyCommand,
  verifyProofCommand,
  checkpointCommand,
  retentionCommand,
  benchCommand,
];

function packageVersion(): string {
  // dist/cli/main.js and src/cli/main.ts are both two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Builds the root program with every registered command. */
export function buildProgram(): Command {
  const program = new Command('auditline')
    .description(
      'Audit logging for Node.js services: no loss, no duplicates, provable integrity.\n\n' +
        'With neither REDIS_URL nor DATABASE_URL set, auditline runs embedded (in-process queue, ' +
        'PGlite under ./auditline-data). With both set, producers write to a Redis stream and ' +
        'any number of workers drain it into PostgreSQL.',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)');
  for (const make of COMMANDS) program.addCommand(make());
  program.addHelpText(
    'after',
    `
Environment (flags take precedence):
  REDIS_URL, DATABASE_URL        distributed mode when both are set; embedded when neither
  AUDITLINE_DATA_DIR             PGlite data directory in embedded mode (./auditline-data)
  AUDITLINE_SCHEMA               PostgreSQL schema of the tables (auditline)
  PORT, AUDITLINE_HOST           where serve listens (3000, 127.0.0.1)
  AUDITLINE_API_KEYS             comma-separated bearer tokens required on /v1 routes
  AUDITLINE_AUTO_MIGRATE         serve and worker migrate on start (true)

Examples:
  $ auditline serve                 # embedded: HTTP API + worker + PGlite in one process
  $ auditline migrate               # apply migrations, then exit
  $ auditline worker                # with REDIS_URL and DATABASE_URL set
  $ auditline help serve

Errors are printed as "error: <code>: <message>"; the exit code is 1, or 2 for a
configuration error.`,
  );
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
  // Commands resolve once their work (or graceful shutdown) is done; a client library's
  // lingering timer must not keep the process alive after that.
  process.exit(process.exitCode ?? 0);
} catch (err) {
  process.exit(reportError(err));
}
