/**
 * The queue: the port, its adapters, and the factory that picks one from configuration.
 */
import { join } from 'node:path';
import type { AuditlineConfig } from '../config.js';
import { DurableMemoryQueue } from './durable/durable-queue.js';
import type { QueueAdapter } from './port.js';
import { RedisStreamsQueue } from './redis/redis-streams-queue.js';

export { DurableMemoryQueue, type DurableMemoryQueueOptions } from './durable/durable-queue.js';
export { type AdmittedEntry, MemoryQueue, type MemoryQueueOptions } from './memory/memory-queue.js';
export type { DeadLetter, EnqueueStatus, QueueAdapter, QueueEntry } from './port.js';
export { RedisStreamsQueue, type RedisStreamsQueueOptions } from './redis/redis-streams-queue.js';

/**
 * Creates the queue for a configuration: Redis Streams when `redisUrl` is set (distributed
 * mode); otherwise (embedded mode) the in-process queue journaled under `<dataDir>/queue`,
 * with the spill journal's fsync policy and size cap (`journalFsync`, `journalMaxBytes`).
 * Nothing connects or opens until first use; call `init()` before reading.
 * `MemoryQueue` (not journaled) is for tests and benchmarks that construct it themselves.
 */
export function createQueue(
  config: Pick<
    AuditlineConfig,
    'redisUrl' | 'keyPrefix' | 'queueMaxLength' | 'dataDir' | 'journalFsync' | 'journalMaxBytes'
  >,
): QueueAdapter {
  if (config.redisUrl) {
    return new RedisStreamsQueue({
      url: config.redisUrl,
      keyPrefix: config.keyPrefix,
      maxLength: config.queueMaxLength,
    });
  }
  return new DurableMemoryQueue({
    dir: join(config.dataDir, 'queue'),
    maxLength: config.queueMaxLength,
    fsync: config.journalFsync,
    maxBytes: config.journalMaxBytes,
  });
}
