/**
 * The Fastify application factory. It wires routes to the ports it is given and never
 * listens: `server.ts` does that, and tests drive the app with `app.inject()`.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { AuditlineConfig } from '../config.js';
import { AuditError, ErrorCodes } from '../core/errors.js';
import type { AuditLogger } from '../logger-types.js';
import type { QueueAdapter } from '../queue/port.js';
import type { StoreAdapter } from '../store/port.js';
import { bearerAuth } from './auth.js';
import { errorHandler } from './errors.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { integrityRoutes } from './routes/integrity.js';
import { type MonitoringRoutesDeps, monitoringRoutes } from './routes/monitoring.js';

/** What the app needs; the caller owns these and closes them (the app never does). */
export interface AppDeps {
  config: Readonly<Pick<AuditlineConfig, 'apiKeys' | 'bodyLimitBytes' | 'maxBatchEvents'>>;
  logger: AuditLogger;
  store: StoreAdapter;
  queue: QueueAdapter;
  /** Serves `/api/monitoring/audit-metrics` and `/metrics` when given (`runtime.metrics.reader`). */
  metrics?: MonitoringRoutesDeps['metrics'];
}

export interface AppOptions {
  /** Fastify's (pino) logger settings; off by default so tests and embedding stay quiet. */
  log?: FastifyServerOptions['logger'];
  /** How long `/readyz` waits for each backend before reporting it unreachable. Default 2,000 ms. */
  readyTimeoutMs?: number;
}

/** Builds the HTTP API: `/v1/events`, `/healthz`, `/readyz`, and with `deps.metrics` the monitoring routes. */
export function buildApp(deps: AppDeps, options: AppOptions = {}): FastifyInstance {
  const { config, logger, store, queue } = deps;
  const app = Fastify({
    logger: options.log ?? false,
    bodyLimit: config.bodyLimitBytes,
    // Per-request log lines would cost more than the ingest itself at 10K events/s;
    // failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    // A proto-poisoned body is rejected as malformed JSON, never silently altered
    // (which would change the event that gets hashed).
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  });

  // Only JSON bodies are accepted: without this, text/plain would reach the route as a string.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request) => {
    throw new AuditError(ErrorCodes.NOT_FOUND, `no route ${request.method} ${request.url.split('?')[0]}`);
  });

  healthRoutes(app, { queue, store, readyTimeoutMs: options.readyTimeoutMs ?? 2000 });

  app.register(
    async (v1) => {
      // Registered inside this scope, the hook guards only /v1; /healthz and /readyz stay open.
      if (config.apiKeys.length > 0) v1.addHook('onRequest', bearerAuth(config.apiKeys));
      eventRoutes(v1, { logger, store, maxBatchEvents: config.maxBatchEvents });
      integrityRoutes(v1, { store });
    },
    { prefix: '/v1' },
  );

  const { metrics } = deps;
  if (metrics) {
    app.register(async (monitoring) => {
      // Same rule as /v1: operational detail is not for anonymous callers once keys exist.
      if (config.apiKeys.length > 0) monitoring.addHook('onRequest', bearerAuth(config.apiKeys));
      monitoringRoutes(monitoring, { metrics });
    });
  }

  return app;
}
