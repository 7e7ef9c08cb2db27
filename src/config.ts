/**
 * Configuration: the only module that reads `process.env`. Precedence, as in postgres.js:
 * explicit option > environment > default. Parsed and validated once into a frozen object.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError } from './core/errors.js';
import { DEFAULT_VALIDATION, type ValidationOptions } from './core/validate.js';

export interface AuditlineConfig {
  /** `embedded` (in-process queue + PGlite) when neither URL is set, else `distributed`. */
  mode: 'embedded' | 'distributed';
  /** `REDIS_URL`: Redis holding the event stream (distributed mode). */
  redisUrl: string | null;
  /** `DATABASE_URL`: PostgreSQL holding `audit_logs` (distributed mode). */
  databaseUrl: string | null;
  /** `AUDITLINE_DATA_DIR`: PGlite data directory in embedded mode. */
  dataDir: string;
  /** `AUDITLINE_SCHEMA`: PostgreSQL schema of auditline's tables. */
  schema: string;
  /** `AUDITLINE_KEY_PREFIX`: prefix of every Redis key auditline uses. */
  keyPrefix: string;
  /** `PORT`: HTTP port of `auditline serve`. */
  port: number;
  /** `AUDITLINE_HOST`: address `serve` binds. Non-loopback requires API keys. */
  host: string;
  /** `AUDITLINE_API_KEYS`: comma-separated bearer tokens; when set every `/v1` route needs one. */
  apiKeys: string[];
  /** `AUDITLINE_BODY_LIMIT_BYTES`: maximum HTTP request body. */
  bodyLimitBytes: number;
  /** `AUDITLINE_MAX_BATCH_EVENTS`: maximum events in one `POST /v1/events`. */
  maxBatchEvents: number;
  /** `AUDITLINE_QUEUE_MAX_LENGTH`: hard cap on queued (unacknowledged) events. */
  queueMaxLength: number;
  /** Event validation bounds (`AUDITLINE_CATEGORIES`, `AUDITLINE_MAX_FUTURE_SKEW_MS`, …). */
  validation: ValidationOptions;
  /** `AUDITLINE_BATCH_MAX_WAIT_MS`: a worker flushes a partial batch after this long. */
  batchMaxWaitMs: number;
  /** `AUDITLINE_BATCH_MIN_SIZE` / `AUDITLINE_BATCH_MAX_SIZE`: bounds of the adaptive batch size. */
  batchMinSize: number;
  batchMaxSize: number;
  /** `AUDITLINE_TARGET_FLUSH_MS`: flush latency the adaptive batch size steers towards. */
  targetFlushMs: number;
  /** `AUDITLINE_VISIBILITY_TIMEOUT_MS`: entries pending this long on a consumer are reclaimed. */
  visibilityTimeoutMs: number;
  /** `AUDITLINE_SHUTDOWN_TIMEOUT_MS`: a worker finishes its batch and exits within this time. */
  shutdownTimeoutMs: number;
  /** `AUDITLINE_CONSUMER_NAME`: this worker's consumer name (default host-pid). */
  consumerName: string;
  /** `AUDITLINE_AUTO_MIGRATE`: `serve` and `worker` run migrations on start. */
  autoMigrate: boolean;
  /** `AUDITLINE_PG_POOL_SIZE`: PostgreSQL connections per worker process. */
  pgPoolSize: number;
}

/** Explicit options; each one overrides the environment. */
export type ConfigOverrides = Partial<Omit<AuditlineConfig, 'mode' | 'validation'>> & {
  validation?: Partial<ValidationOptions>;
};

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigError(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

const IDENT_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Builds the configuration from explicit options and the environment.
 * @throws ConfigError on any malformed or contradictory setting.
 */
export function loadConfig(
  overrides: ConfigOverrides = {},
  env: Env = process.env,
): Readonly<AuditlineConfig> {
  const redisUrl = overrides.redisUrl !== undefined ? overrides.redisUrl : env.REDIS_URL || null;
  const databaseUrl = overrides.databaseUrl !== undefined ? overrides.databaseUrl : env.DATABASE_URL || null;
  if ((redisUrl === null) !== (databaseUrl === null)) {
    throw new ConfigError(
      redisUrl
        ? 'REDIS_URL is set but DATABASE_URL is not: set both for distributed mode, or neither for embedded mode'
        : 'DATABASE_URL is set but REDIS_URL is not: set both for distributed mode, or neither for embedded mode',
    );
  }
  const extraCategories = list(env.AUDITLINE_CATEGORIES);
  const validation: ValidationOptions = {
    categories: [...new Set([...DEFAULT_VALIDATION.categories, ...extraCategories])],
    maxFutureSkewMs: int(env, 'AUDITLINE_MAX_FUTURE_SKEW_MS', DEFAULT_VALIDATION.maxFutureSkewMs),
    maxPastMs: int(env, 'AUDITLINE_MAX_PAST_MS', DEFAULT_VALIDATION.maxPastMs),
    metadataMaxDepth: int(env, 'AUDITLINE_METADATA_MAX_DEPTH', DEFAULT_VALIDATION.metadataMaxDepth, 1),
    metadataMaxBytes: int(env, 'AUDITLINE_METADATA_MAX_BYTES', DEFAULT_VALIDATION.metadataMaxBytes, 2),
    ...overrides.validation,
  };
  for (const c of validation.categories) {
    if (!/^[a-z][a-z0-9_-]{0,63}$/.test(c)) throw new ConfigError(`invalid event category name "${c}"`);
  }

  const cfg: AuditlineConfig = {
    mode: redisUrl ? 'distributed' : 'embedded',
    redisUrl,
    databaseUrl,
    dataDir: resolve(overrides.dataDir ?? (env.AUDITLINE_DATA_DIR || './auditline-data')),
    schema: overrides.schema ?? (env.AUDITLINE_SCHEMA || 'auditline'),
    keyPrefix: overrides.keyPrefix ?? (env.AUDITLINE_KEY_PREFIX || 'auditline'),
    port: overrides.port ?? int(env, 'PORT', 3000),
    host: overrides.host ?? (env.AUDITLINE_HOST || '127.0.0.1'),
    apiKeys: overrides.apiKeys ?? list(env.AUDITLINE_API_KEYS),
    bodyLimitBytes: overrides.bodyLimitBytes ?? int(env, 'AUDITLINE_BODY_LIMIT_BYTES', 1024 * 1024, 1024),
    maxBatchEvents: overrides.maxBatchEvents ?? int(env, 'AUDITLINE_MAX_BATCH_EVENTS', 1000, 1),
    queueMaxLength: overrides.queueMaxLength ?? int(env, 'AUDITLINE_QUEUE_MAX_LENGTH', 10_000, 1),
    validation,
    batchMaxWaitMs: overrides.batchMaxWaitMs ?? int(env, 'AUDITLINE_BATCH_MAX_WAIT_MS', 1000, 1),
    batchMinSize: overrides.batchMinSize ?? int(env, 'AUDITLINE_BATCH_MIN_SIZE', 100, 1),
    batchMaxSize: overrides.batchMaxSize ?? int(env, 'AUDITLINE_BATCH_MAX_SIZE', 5000, 1),
    targetFlushMs: overrides.targetFlushMs ?? int(env, 'AUDITLINE_TARGET_FLUSH_MS', 200, 1),
    visibilityTimeoutMs:
      overrides.visibilityTimeoutMs ?? int(env, 'AUDITLINE_VISIBILITY_TIMEOUT_MS', 30_000, 100),
    shutdownTimeoutMs: overrides.shutdownTimeoutMs ?? int(env, 'AUDITLINE_SHUTDOWN_TIMEOUT_MS', 8_000, 100),
    consumerName: overrides.consumerName ?? (env.AUDITLINE_CONSUMER_NAME || `${hostname()}-${process.pid}`),
    autoMigrate: overrides.autoMigrate ?? bool(env, 'AUDITLINE_AUTO_MIGRATE', true),
    pgPoolSize: overrides.pgPoolSize ?? int(env, 'AUDITLINE_PG_POOL_SIZE', 4, 1),
  };
  if (!IDENT_RE.test(cfg.schema)) {
    throw new ConfigError(`AUDITLINE_SCHEMA must be a lower-case SQL identifier, got "${cfg.schema}"`);
  }
  if (!/^[A-Za-z0-9_:{}.-]{1,100}$/.test(cfg.keyPrefix)) {
    throw new ConfigError(`AUDITLINE_KEY_PREFIX has invalid characters: "${cfg.keyPrefix}"`);
  }
  if (cfg.batchMinSize > cfg.batchMaxSize) {
    throw new ConfigError('AUDITLINE_BATCH_MIN_SIZE must not exceed AUDITLINE_BATCH_MAX_SIZE');
  }
  if (cfg.port > 65535) throw new ConfigError(`PORT must be at most 65535, got ${cfg.port}`);
  return Object.freeze(cfg);
}

/** True for addresses only reachable from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
