/**
 * Monitoring: `GET /api/monitoring/audit-metrics` (the seed's path and response shape) and
 * `GET /metrics` (Prometheus text). Both aggregate every process at request time.
 *
 * Unlike `/healthz` and `/readyz`, these reveal operational detail (host and process names,
 * volumes by category), so when API keys are configured they require one like `/v1` does
 * (Prometheus sends it with `authorization: { credentials: … }`). Without keys the server
 * only binds loopback (`assertSafeBind`), as for `/v1`.
 */
import type { FastifyInstance } from 'fastify';
import { renderPrometheus } from '../../metrics/prometheus.js';
import type { MetricsReader } from '../../metrics/reader.js';

/** Path of the seed's metrics endpoint. */
export const AUDIT_METRICS_ROUTE = '/api/monitoring/audit-metrics';

export interface MonitoringRoutesDeps {
  metrics: Pick<MetricsReader, 'read' | 'auditMetrics'>;
}

/** Registers the two monitoring routes. A reading never throws: failures show up in health. */
export function monitoringRoutes(app: FastifyInstance, deps: MonitoringRoutesDeps): void {
  const { metrics } = deps;
  app.get(AUDIT_METRICS_ROUTE, async (_request, reply) => {
    // A live reading: a cached copy would hide an outage.
    reply.header('cache-control', 'no-store');
    return metrics.auditMetrics();
  });
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await renderPrometheus(await metrics.read());
    reply.header('cache-control', 'no-store').type(contentType);
    return body;
  });
}
