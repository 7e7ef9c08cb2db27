/**
 * What the commands share: the connection flags, their mapping onto `ConfigOverrides`
 * (config.ts stays the only reader of the environment), error reporting with exit codes,
 * and waiting for a shutdown signal.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { ConfigOverrides } from '../config.js';
import { ConfigError, ErrorCodes, isAuditError } from '../core/errors.js';

/** Exit codes: 1 for any failure, 2 for a configuration error (fix the flags or environment). */
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;

/** Flags every command that touches Redis or PostgreSQL accepts. */
export interface ConnectionFlags {
  redisUrl?: string;
  databaseUrl?: string;
  dataDir?: string;
  schema?: string;
  keyPrefix?: string;
}

/** Adds `--redis-url`, `--database-url`, `--data-dir`, `--schema`, `--key-prefix`. */
export function addConnectionOptions(cmd: Command, { redis = true } = {}): Command {
  if (redis) cmd.option('--redis-url <url>', 'Redis holding the event stream (env REDIS_URL)');
  return cmd
    .option('--database-url <url>', 'PostgreSQL holding audit_logs (env DATABASE_URL)')
    .option(
      '--data-dir <dir>',
      'PGlite data directory when no URLs are set (env AUDITLINE_DATA_DIR, default ./auditline-data)',
    )
    .option('--schema <name>', 'PostgreSQL schema of the tables (env AUDITLINE_SCHEMA, default auditline)')
    .option('--key-prefix <prefix>', 'prefix of Redis keys (env AUDITLINE_KEY_PREFIX, default auditline)');
}

/** Maps parsed connection flags onto config overrides, leaving unset flags to the environment. */
export function connectionOverrides(flags: ConnectionFlags): ConfigOverrides {
  const o: ConfigOverrides = {};
  if (flags.redisUrl !== undefined) o.redisUrl = flags.redisUrl;
  if (flags.databaseUrl !== undefined) o.databaseUrl = flags.databaseUrl;
  if (flags.dataDir !== undefined) o.dataDir = flags.dataDir;
  if (flags.schema !== undefined) o.schema = flags.schema;
  if (flags.keyPrefix !== undefined) o.keyPrefix = flags.keyPrefix;
  return o;
}

/**
 * `--no-migrate` sets `autoMigrate: false`; without it the environment
 * (`AUDITLINE_AUTO_MIGRATE`) decides, so the flag's implicit default must not override it.
 */
export function migrateOverride(flags: { migrate?: boolean }): ConfigOverrides {
  return flags.migrate === false ? { autoMigrate: false } : {};
}

/** Commander argument parser for non-negative integers. */
export function intArg(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError('expected a non-negative integer');
  return Number(value);
}

/** Prints `error: <code>: <message>` (and causes) to stderr; returns the exit code to use. */
export function reportError(err: unknown): number {
  const code = isAuditError(err) ? err.code : ErrorCodes.INTERNAL;
  const message = err instanceof Error ? err.message : String(err);
  let text = `error: ${code}: ${message}\n`;
  let cause = err instanceof Error ? err.cause : undefined;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    text += `  caused by: ${cause instanceof Error ? cause.message : String(cause)}\n`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  process.stderr.write(text);
  return err instanceof ConfigError ? EXIT_CONFIG : EXIT_FAILURE;
}

/**
 * Wraps a command action: any error is reported and the process exits with its code,
 * instead of commander printing a stack trace.
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      process.exit(reportError(err));
    }
  };
}

/**
 * Resolves on the first SIGTERM or SIGINT. A second one exits at once with code 1: the
 * operator no longer wants to wait for the graceful shutdown.
 */
export function waitForShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', first);
      process.off('SIGINT', first);
      const again = (s: NodeJS.Signals) => {
        process.stderr.write(`auditline: ${s} again, exiting without finishing shutdown\n`);
        process.exit(EXIT_FAILURE);
      };
      process.once('SIGTERM', again);
      process.once('SIGINT', again);
      resolve(signal);
    };
    process.on('SIGTERM', first);
    process.on('SIGINT', first);
  });
}
