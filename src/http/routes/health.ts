/**
 * Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the queue and the
 * store answer). Both stay open when API keys are configured: orchestrators probe them
 * without credentials, and they reveal nothing about the events.
 */
import type { FastifyInstance } from 'fastify';
import { ErrorCodes } from '../../core/errors.js';
import type { QueueAdapter } from '../../queue/port.js';
import type { StoreAdapter } from '../../store/port.js';

export interface HealthRoutesDeps {
  queue: Pick<QueueAdapter, 'ping'>;
  store: Pick<StoreAdapter, 'ping'>;
  /**
   * How long a readiness probe waits for each backend. Short, because a client such as
   * ioredis queues commands while reconnecting: an unreachable Redis hangs rather than fails.
   */
  readyTimeoutMs: number;
}

/** `'ok'`, or why the check failed. */
type CheckResult = 'ok' | string;

async function check(ping: () => Promise<void>, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([
      ping().then(
        () => 'ok',
        (err: unknown) => (err instanceof Error && err.message ? err.message : 'ping failed'),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Registers `GET /healthz` and `GET /readyz`. */
export function healthRoutes(app: FastifyInstance, deps: HealthRoutesDeps): void {
  const { queue, store, readyTimeoutMs } = deps;

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const [q, s] = await Promise.all([
      check(() => queue.ping(), readyTimeoutMs),
      check(() => store.ping(), readyTimeoutMs),
    ]);
    const checks = { queue: q, store: s };
    if (q === 'ok' && s === 'ok') return { status: 'ready', checks };
    const failed = Object.entries(checks)
      .filter(([, v]) => v !== 'ok')
      .map(([k]) => k);
    return reply.code(503).send({
      error: {
        code: ErrorCodes.NOT_READY,
        message: `not ready: ${failed.join(' and ')} unreachable`,
        failed,
        checks,
      },
    });
  });
}
