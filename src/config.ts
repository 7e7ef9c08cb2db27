/**
 * Configuration: the only module that reads `process.env`. Precedence, as in postgres.js:
 * explicit option > environment > default. Parsed and validated once into a frozen object.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError } from './core/errors.js';
import { DEFAULT_HEALTH_THRESHOLDS, type HealthThresholds } from './core/health.js';
import { DEFAULT_VALIDATION, type ValidationOptions } from './core/validate.js';

/**
 * Alert delivery (`AUDITLINE_ALERT_*`). Alerting runs in `serve` and `worker` only when at
 * least one sink is configured; one process at a time evaluates (a Redis lease).
 */
export interface AlertConfig {
  /** `AUDITLINE_ALERT_SLACK_WEBHOOK_URL`: Slack incoming-webhook URL. Default none. */
  slackWebhookUrl: string | null;
  /** `AUDITLINE_ALERT_PAGERDUTY_ROUTING_KEY`: PagerDuty Events v2 integration key. Default none. */
  pagerDutyRoutingKey: string | null;
  /** `AUDITLINE_ALERT_PAGERDUTY_URL`: Events API endpoint; default PagerDuty's own. */
  pagerDutyUrl: string | null;
  /** `AUDITLINE_ALERT_WEBHOOK_URL`: generic webhook receiving signed JSON. Default none. */
  webhookUrl: string | null;
  /** `AUDITLINE_ALERT_WEBHOOK_SECRET`: HMAC-SHA256 key of the webhook; required with its URL. */
  webhookSecret: string | null;
  /**
   * `AUDITLINE_ALERT_INTERVAL_MS`: how often health is evaluated. Default 30,000: an outage
   * is reported within about half a minute without polling Redis and PostgreSQL constantly.
   */
  intervalMs: number;
  /** `AUDITLINE_ALERT_RENOTIFY_MS`: re-notify an alert still on after this long. Default 3,600,000 (1 h). */
  renotifyMs: number;
}

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
  /**
   * `AUDITLINE_CONSUMER_NAME`: this worker's consumer name. Default `<hostname>-<NODE_APP_INSTANCE>`
   * under PM2, else `<hostname>-<pid>` (see {@link defaultConsumerName}).
   */
  consumerName: string;
  /** `AUDITLINE_AUTO_MIGRATE`: `serve` and `worker` run migrations on start. */
  autoMigrate: boolean;
  /** `AUDITLINE_PG_POOL_SIZE`: PostgreSQL connections per worker process. */
  pgPoolSize: number;
  /**
   * Ed25519 private key (PKCS#8 PEM) that signs every block hash: the contents of
   * `AUDITLINE_SIGNING_KEY_FILE`, else `AUDITLINE_SIGNING_KEY` (the PEM text itself). Default
   * none: blocks are chained but unsigned. Whoever holds it can re-sign a rewritten chain, so
   * keep it off the database host; `auditline keys generate` makes one.
   */
  signingKey: string | null;
  /**
   * `AUDITLINE_OVERFLOW`: what happens to an event of each category when the queue is at its
   * cap, e.g. `critical=direct,info=spill`; `*=` sets the default. Preset `seed` =
   * `critical=direct,*=drop` (the seed plan's behaviour). Default `critical=direct,*=spill`.
   */
  overflow: Readonly<Record<string, OverflowPolicy>>;
  /** `AUDITLINE_OVERFLOW_BLOCK_MS`: how long the `block` policy waits for room before spilling. */
  overflowBlockMs: number;
  /** `AUDITLINE_JOURNAL_DIR`: the disk spill journal of this process (default `<dataDir>/journal`). */
  journalDir: string;
  /** `AUDITLINE_JOURNAL_FSYNC`: `always | interval | never` (see the README for what each risks). */
  journalFsync: 'always' | 'interval' | 'never';
  /** `AUDITLINE_JOURNAL_MAX_BYTES`: size cap of the journal. */
  journalMaxBytes: number;
  /** `AUDITLINE_JOURNAL_FALLBACK`: when the journal is full or unusable: `direct` (write to PostgreSQL, else reject) or `drop` (counted, gap record). */
  journalFallback: 'direct' | 'drop';
  /** `AUDITLINE_HANDOFF_TIMEOUT_MS`: an event waits at most this long in memory for the queue, then it is spilled. */
  handoffTimeoutMs: number;
  /** `AUDITLINE_MAX_INFLIGHT_EVENTS`: events a producer holds in memory at most; beyond, they go to the journal. */
  maxInflightEvents: number;
  /** `AUDITLINE_GAP_INTERVAL_MS`: how often dropped events are summarised in an `audit.gap` record. */
  gapIntervalMs: number;
  /** `AUDITLINE_MAX_DELIVERIES`: an entry delivered more often than this goes to the dead-letter stream. */
  maxDeliveries: number;
  /** `AUDITLINE_ENV`: deployment name in alert messages and dedup keys. Default `default`. */
  environment: string;
  /**
   * `AUDITLINE_METRICS_INTERVAL_MS`: how often each process publishes its metrics. Default
   * 5,000. Its snapshot expires after 3 intervals, so a dead process vanishes within ~15 s.
   */
  metricsIntervalMs: number;
  /**
   * `AUDITLINE_PRODUCER_METRICS`: a logger made by `createAuditLogger` publishes its own
   * metrics (role `producer`: outcomes, journal backlog) every `metricsIntervalMs`. Default
   * false, so a library starts no timer of its own unless asked; `serve` and `worker` always
   * publish.
   */
  producerMetrics: boolean;
  /**
   * Health rule thresholds (`AUDITLINE_HEALTH_MAX_QUEUE_LENGTH`, `…_MAX_FAILURES_PER_MINUTE`,
   * `…_MAX_DROPPED_PER_MINUTE`, `…_MAX_DEAD_LETTERS`, `…_MAX_JOURNAL_BACKLOG`,
   * `…_MAX_AVG_BATCH_TIME_MS`, `…_WORKER_STALE_AFTER_MS`, `…_MIN_LIVE_WORKERS`); defaults
   * are the seed's, see `DEFAULT_HEALTH_THRESHOLDS` in `core/health.ts`.
   */
  health: Readonly<HealthThresholds>;
  /** Alert sinks and timing (`AUDITLINE_ALERT_*`). */
  alerts: Readonly<AlertConfig>;
}

/** What to do with an event of a category when the queue is at its cap. */
export type OverflowPolicy = 'spill' | 'direct' | 'block' | 'drop';

const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['spill', 'direct', 'block', 'drop'];
/** The default: nothing is dropped; critical events go straight to the database. */
export const DEFAULT_OVERFLOW: Readonly<Record<string, OverflowPolicy>> = Object.freeze({
  critical: 'direct',
  '*': 'spill',
});
/** The seed plan's behaviour, one option away: critical direct, everything else dropped (counted, gap records). */
export const SEED_OVERFLOW: Readonly<Record<string, OverflowPolicy>> = Object.freeze({
  critical: 'direct',
  '*': 'drop',
});

/** Parses `critical=direct,*=spill` or a preset name (`seed`, `default`). */
export function parseOverflow(raw: string): Record<string, OverflowPolicy> {
  const text = raw.trim();
  if (text === 'seed') return { ...SEED_OVERFLOW };
  if (text === '' || text === 'default') return { ...DEFAULT_OVERFLOW };
  const out: Record<string, OverflowPolicy> = { ...DEFAULT_OVERFLOW };
  for (const part of list(text)) {
    const [category, policy] = part.split('=').map((s) => s.trim());
    if (!category || !policy || !OVERFLOW_POLICIES.includes(policy as OverflowPolicy)) {
      throw new ConfigError(
        `AUDITLINE_OVERFLOW: "${part}" must be <category>=<${OVERFLOW_POLICIES.join('|')}> (or the preset "seed")`,
      );
    }
    out[category] = policy as OverflowPolicy;
  }
  return out;
}

/** The policy for a category under an overflow table (`*` is the default). */
export function overflowPolicyFor(
  table: Readonly<Record<string, OverflowPolicy>>,
  category: string,
): OverflowPolicy {
  return table[category] ?? table['*'] ?? 'spill';
}

/** Explicit options; each one overrides the environment. */
export type ConfigOverrides = Partial<Omit<AuditlineConfig, 'mode' | 'validation' | 'health' | 'alerts'>> & {
  validation?: Partial<ValidationOptions>;
  health?: Partial<HealthThresholds>;
  alerts?: Partial<AlertConfig>;
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

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!allowed.includes(raw as T))
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function str(env: Env, name: string): string | null {
  const raw = env[name];
  return raw === undefined || raw === '' ? null : raw;
}

/** Maps each threshold to its `AUDITLINE_HEALTH_*` variable: camelCase → SCREAMING_SNAKE. */
function healthFromEnv(env: Env): HealthThresholds {
  const out = { ...DEFAULT_HEALTH_THRESHOLDS };
  for (const key of Object.keys(out) as (keyof HealthThresholds)[]) {
    const name = `AUDITLINE_HEALTH_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    out[key] = int(env, name, out[key]);
  }
  return out;
}

function alertsFromEnv(env: Env): AlertConfig {
  return {
    slackWebhookUrl: str(env, 'AUDITLINE_ALERT_SLACK_WEBHOOK_URL'),
    pagerDutyRoutingKey: str(env, 'AUDITLINE_ALERT_PAGERDUTY_ROUTING_KEY'),
    pagerDutyUrl: str(env, 'AUDITLINE_ALERT_PAGERDUTY_URL'),
    webhookUrl: str(env, 'AUDITLINE_ALERT_WEBHOOK_URL'),
    webhookSecret: str(env, 'AUDITLINE_ALERT_WEBHOOK_SECRET'),
    intervalMs: int(env, 'AUDITLINE_ALERT_INTERVAL_MS', 30_000, 100),
    renotifyMs: int(env, 'AUDITLINE_ALERT_RENOTIFY_MS', 3_600_000, 1000),
  };
}

/**
 * The default consumer name. Under PM2 (`NODE_APP_INSTANCE` set, 0…n-1 per app) it is
 * `<hostname>-<instance>`: a worker PM2 restarts comes back under the same name, so the
 * entries its predecessor left pending are still its own (it reclaims them like any other
 * idle entry, and the group does not collect a dead consumer per restart), and its metrics
 * snapshot replaces the old one instead of lingering beside it. Elsewhere `<hostname>-<pid>`.
 *
 * The trade-off: a name must never be shared by two live processes. Two consumers with one
 * name are one consumer to Redis, so each would acknowledge and reclaim the other's
 * entries, and their metrics would overwrite each other. PM2 numbers instances per app, so
 * two PM2 apps on one host that both consume the same stream (e.g. a second worker app, or
 * `serve --with-worker`) would collide: give those an explicit AUDITLINE_CONSUMER_NAME. The
 * pid default is unique on a host but changes on every restart.
 */
function defaultConsumerName(env: Env): string {
  const instance = env.NODE_APP_INSTANCE;
  return instance !== undefined && /^\d+$/.test(instance)
    ? `${hostname()}-${instance}`
    : `${hostname()}-${process.pid}`;
}

function signingKeyFromEnv(env: Env): string | null {
  const file = str(env, 'AUDITLINE_SIGNING_KEY_FILE');
  if (file === null) return str(env, 'AUDITLINE_SIGNING_KEY');
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`AUDITLINE_SIGNING_KEY_FILE: cannot read ${file}`, { cause: err });
  }
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
    // 2500, not 5000: the same throughput within run-to-run noise (e2e 45.2k/46.5k vs
    // 47.2k/45.0k events/s, drain 59.7k/64.1k vs 63.3k/60.8k) and ~25 MiB less worker peak
    // RSS (194/212 vs 228/229 MiB; npm run bench -- --only e2e,drain --duration 15).
    batchMaxSize: overrides.batchMaxSize ?? int(env, 'AUDITLINE_BATCH_MAX_SIZE', 2500, 1),
    targetFlushMs: overrides.targetFlushMs ?? int(env, 'AUDITLINE_TARGET_FLUSH_MS', 200, 1),
    visibilityTimeoutMs:
      overrides.visibilityTimeoutMs ?? int(env, 'AUDITLINE_VISIBILITY_TIMEOUT_MS', 30_000, 100),
    shutdownTimeoutMs: overrides.shutdownTimeoutMs ?? int(env, 'AUDITLINE_SHUTDOWN_TIMEOUT_MS', 8_000, 100),
    consumerName: overrides.consumerName ?? (env.AUDITLINE_CONSUMER_NAME || defaultConsumerName(env)),
    autoMigrate: overrides.autoMigrate ?? bool(env, 'AUDITLINE_AUTO_MIGRATE', true),
    pgPoolSize: overrides.pgPoolSize ?? int(env, 'AUDITLINE_PG_POOL_SIZE', 4, 1),
    signingKey: overrides.signingKey !== undefined ? overrides.signingKey : signingKeyFromEnv(env),
    overflow: overrides.overflow ?? parseOverflow(env.AUDITLINE_OVERFLOW ?? ''),
    overflowBlockMs: overrides.overflowBlockMs ?? int(env, 'AUDITLINE_OVERFLOW_BLOCK_MS', 1000),
    journalDir: '',
    journalFsync:
      overrides.journalFsync ??
      oneOf(env, 'AUDITLINE_JOURNAL_FSYNC', ['always', 'interval', 'never'], 'interval'),
    journalMaxBytes:
      overrides.journalMaxBytes ?? int(env, 'AUDITLINE_JOURNAL_MAX_BYTES', 1024 ** 3, 1024 * 1024),
    journalFallback:
      overrides.journalFallback ?? oneOf(env, 'AUDITLINE_JOURNAL_FALLBACK', ['direct', 'drop'], 'direct'),
    handoffTimeoutMs: overrides.handoffTimeoutMs ?? int(env, 'AUDITLINE_HANDOFF_TIMEOUT_MS', 2000, 10),
    maxInflightEvents: overrides.maxInflightEvents ?? int(env, 'AUDITLINE_MAX_INFLIGHT_EVENTS', 50_000, 1),
    gapIntervalMs: overrides.gapIntervalMs ?? int(env, 'AUDITLINE_GAP_INTERVAL_MS', 60_000, 10),
    maxDeliveries: overrides.maxDeliveries ?? int(env, 'AUDITLINE_MAX_DELIVERIES', 5, 1),
    environment: overrides.environment ?? (env.AUDITLINE_ENV || 'default'),
    metricsIntervalMs: overrides.metricsIntervalMs ?? int(env, 'AUDITLINE_METRICS_INTERVAL_MS', 5_000, 50),
    producerMetrics: overrides.producerMetrics ?? bool(env, 'AUDITLINE_PRODUCER_METRICS', false),
    health: Object.freeze({ ...healthFromEnv(env), ...overrides.health }),
    alerts: Object.freeze({ ...alertsFromEnv(env), ...overrides.alerts }),
  };
  cfg.journalDir = resolve(overrides.journalDir ?? (env.AUDITLINE_JOURNAL_DIR || `${cfg.dataDir}/journal`));
  for (const [category, policy] of Object.entries(cfg.overflow)) {
    if (!OVERFLOW_POLICIES.includes(policy))
      throw new ConfigError(`overflow policy for ${category}: unknown "${policy}"`);
  }
  if (!IDENT_RE.test(cfg.schema)) {
    throw new ConfigError(`AUDITLINE_SCHEMA must be a lower-case SQL identifier, got "${cfg.schema}"`);
  }
  if (!/^[A-Za-z0-9_:{}.-]{1,100}$/.test(cfg.keyPrefix)) {
    throw new ConfigError(`AUDITLINE_KEY_PREFIX has invalid characters: "${cfg.keyPrefix}"`);
  }
  if (cfg.batchMinSize > cfg.batchMaxSize) {
    throw new ConfigError('AUDITLINE_BATCH_MIN_SIZE must not exceed AUDITLINE_BATCH_MAX_SIZE');
  }
  if ((cfg.alerts.webhookUrl === null) !== (cfg.alerts.webhookSecret === null)) {
    throw new ConfigError(
      'AUDITLINE_ALERT_WEBHOOK_URL and AUDITLINE_ALERT_WEBHOOK_SECRET go together: the webhook body is always signed',
    );
  }
  if (cfg.alerts.pagerDutyUrl !== null && cfg.alerts.pagerDutyRoutingKey === null) {
    throw new ConfigError(
      'AUDITLINE_ALERT_PAGERDUTY_URL is set but AUDITLINE_ALERT_PAGERDUTY_ROUTING_KEY is not',
    );
  }
  if (cfg.port > 65535) throw new ConfigError(`PORT must be at most 65535, got ${cfg.port}`);
  return Object.freeze(cfg);
}

/** True for addresses only reachable from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
