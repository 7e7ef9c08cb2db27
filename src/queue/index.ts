/**
 * The queue: the port, its two adapters, and the factory that picks one from configuration.
 */
import type { AuditlineConfig } from '../config.js';
import { MemoryQueue } from './memory/memory-queue.js';
import type { QueueAdapter } from './port.js';
import { RedisStreamsQueue } from './redis/redis-streams-queue.js';

export { MemoryQueue, type MemoryQueueOptions } from './memory/memory-queue.js';
export type { DeadLetter, EnqueueStatus, QueueAdapter, QueueEntry } from './port.js';
export { RedisStreamsQueue, type RedisStreamsQueueOptions } from './redis/redis-streams-queue.js';

/**
 * Creates the queue for a configuration: Redis Streams when `redisUrl` is set (distributed
 * mode), the in-process queue otherwise (embedded mode). Nothing connects until first use;
 * call `init()` before reading.
 */
export function createQueue(
  config: Pick<AuditlineConfig, 'redisUrl' | 'keyPrefix' | 'queueMaxLength'>,
): QueueAdapter {
  if (config.redisUrl) {
    return new RedisStreamsQueue({
      url: config.redisUrl,
      keyPrefix: config.keyPrefix,
      maxLength: config.queueMaxLength,
    });
  }
  return new MemoryQueue({ maxLength: config.queueMaxLength });
}
