/**
 * The seed plan's Express app, audited with auditline: each route that changes something
 * records who did what to which resource with `req.audit()`. Built by a factory so tests
 * drive it in-process; `server.ts` only listens.
 */
import express, { type Express } from 'express';
import type { AuditLoggerHandle } from '../../src/index.js';
import { auditMiddleware, monitoringRouter } from '../../src/integrations/express.js';

/** Options of {@link createApp}. */
export interface AppOptions {
  /**
   * Express's `trust proxy` setting. Leave it off when clients connect directly: then
   * `X-Forwarded-For` is the client's own claim and `req.ip` ignores it. Behind a reverse
   * proxy, name it (`'loopback'`, a subnet, a hop count) so `req.ip` is the real client.
   */
  trustProxy?: boolean | string | number;
}

/** In this demo documents live in memory; the audit trail is the point. */
type Documents = Map<string, { title: string; body: string }>;

/**
 * Builds the example app over a logger.
 *
 * The actor comes from an `X-User-Id` header to keep the demo self-contained; a real app
 * takes it from its authenticated session (`(req) => req.user?.id`), never from a header
 * the client sets.
 */
export function createApp(audit: AuditLoggerHandle, options: AppOptions = {}): Express {
  const app = express();
  app.set('trust proxy', options.trustProxy ?? false);
  app.use(express.json({ limit: '100kb' }));
  app.use(
    auditMiddleware(audit, {
      userId: (req) => req.get('x-user-id'),
      tenantId: (req) => req.get('x-tenant-id'),
    }),
  );
  // The seed's endpoint, GET /api/monitoring/audit-metrics: health (the most severe
  // finding) and the metrics of every worker and producer of the deployment, summed.
  // Protect it like any admin route in a real app (it names hosts and processes).
  app.use(monitoringRouter({ metrics: () => audit.metrics() }));

  const documents: Documents = new Map();

  app.put('/documents/:id', async (req, res) => {
    const { title, body } = (req.body ?? {}) as { title?: unknown; body?: unknown };
    if (typeof title !== 'string' || typeof body !== 'string') {
      res.status(400).json({ error: 'title and body must be strings' });
      return;
    }
    const existed = documents.has(req.params.id);
    documents.set(req.params.id, { title, body });
    // Awaited: the client hears "saved" only once the audit record is safely handed off.
    // If auditing fails, Express 5 passes the rejection to its error handler (a 500).
    const { id } = await req.audit({
      event_type: existed ? 'document.update' : 'document.create',
      resource_type: 'document',
      resource_id: req.params.id,
      description: `${existed ? 'updated' : 'created'} "${title}"`,
      metadata: { title, bytes: Buffer.byteLength(body) },
    });
    res.status(existed ? 200 : 201).json({ id: req.params.id, audit_id: id });
  });

  app.delete('/documents/:id', async (req, res) => {
    if (!documents.delete(req.params.id)) {
      res.status(404).json({ error: 'no such document' });
      return;
    }
    // Deletions are `critical`: at the queue's cap they are written straight to the
    // database instead of waiting (the seed's rule).
    const { id } = await req.audit({
      event_type: 'document.delete',
      event_category: 'critical',
      resource_type: 'document',
      resource_id: req.params.id,
    });
    res.json({ id: req.params.id, audit_id: id });
  });

  app.get('/documents/:id', (req, res) => {
    const doc = documents.get(req.params.id);
    if (!doc) {
      res.status(404).json({ error: 'no such document' });
      return;
    }
    // Reads are not audited here; a fire-and-forget `void req.audit(...)` would do it
    // without delaying the answer (failures then go to the middleware's onError).
    res.json({ id: req.params.id, ...doc });
  });

  return app;
}
