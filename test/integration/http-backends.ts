/**
 * Real backends for the HTTP contract tests: the in-memory queue with in-memory PGlite, and
 * Redis Streams with PostgreSQL under a key prefix and schema no other test uses.
 */
import { createServer } from 'node:net';
import { type AuditlineConfig, type ConfigOverrides, loadConfig } from '../../src/config.js';
import { Producer } from '../../src/producer.js';
import { MemoryQueue, RedisStreamsQueue } from '../../src/queue/index.js';
import type { QueueAdapter } from '../../src/queue/port.js';
import { PgliteStore, PostgresStore } from '../../src/store/index.js';
import type { StoreAdapter } from '../../src/store/port.js';
import {
  DATABASE_URL,
  dropPrefix,
  dropSchema,
  REDIS_URL,
  uniqueId,
  uniquePrefix,
  uniqueSchema,
} from '../helpers/env.js';

export interface Backend {
  config: Readonly<AuditlineConfig>;
  queue: QueueAdapter;
  store: StoreAdapter;
  logger: Producer;
  close(): Promise<void>;
}

export interface BackendKind {
  name: string;
  open(overrides?: ConfigOverrides): Promise<Backend>;
}

function wire(
  config: Readonly<AuditlineConfig>,
  queue: QueueAdapter,
  store: StoreAdapter,
  cleanup: () => Promise<void>,
): Backend {
  const logger = new Producer({
    config,
    queue,
    journal: null,
    directStore: async () => ({ append: (events) => store.append(events), close: async () => {} }),
  });
  return {
    config,
    queue,
    store,
    logger,
    async close() {
      await logger.close();
      await queue.close();
      await store.close();
      await cleanup();
    },
  };
}

/** Both adapter pairs. The environment is not read: each test states its configuration. */
export const BACKENDS: BackendKind[] = [
  {
    name: 'memory queue + PGlite',
    async open(overrides = {}) {
      const config = loadConfig({ consumerName: `http-${uniqueId()}`, batchMaxWaitMs: 20, ...overrides }, {});
      const queue = new MemoryQueue({ maxLength: config.queueMaxLength });
      const store = new PgliteStore({ schema: config.schema });
      await store.migrate();
      await queue.init();
      return wire(config, queue, store, async () => {});
    },
  },
  {
    name: 'Redis Streams + PostgreSQL',
    async open(overrides = {}) {
      const config = loadConfig(
        {
          redisUrl: REDIS_URL,
          databaseUrl: DATABASE_URL,
          keyPrefix: uniquePrefix('http'),
          schema: uniqueSchema('http'),
          consumerName: `http-${uniqueId()}`,
          batchMaxWaitMs: 20,
          pgPoolSize: 2,
          ...overrides,
        },
        {},
      );
      const queue = new RedisStreamsQueue({
        url: REDIS_URL,
        keyPrefix: config.keyPrefix,
        maxLength: config.queueMaxLength,
      });
      const store = new PostgresStore({ connectionString: DATABASE_URL, schema: config.schema, poolSize: 2 });
      await store.migrate();
      await queue.init();
      return wire(config, queue, store, async () => {
        await dropPrefix(config.keyPrefix);
        await dropSchema(config.schema);
      });
    },
  },
];

/** A TCP port on which nothing listens (bound, then released). */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
