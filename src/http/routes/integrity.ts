/**
 * Integrity routes: `GET /v1/integrity/public-key` (the PEM that verifies block signatures),
 * `GET /v1/integrity/head` (the latest block as a checkpoint document) and
 * `GET /v1/events/:id/proof?tenant_id=` (the offline inclusion proof of one event).
 */
import type { FastifyInstance } from 'fastify';
import { AuditError, ErrorCodes } from '../../core/errors.js';
import { buildProof } from '../../core/signing.js';
import { takeCheckpoint } from '../../integrity/checkpoint.js';
import type { StoreAdapter } from '../../store/port.js';

export interface IntegrityRoutesDeps {
  store: Pick<StoreAdapter, 'integrity'>;
}

/** Registers the integrity routes on a (prefixed, authenticated) scope. */
export function integrityRoutes(app: FastifyInstance, { store }: IntegrityRoutesDeps): void {
  app.get('/integrity/public-key', async () => {
    const key = store.integrity.publicKey();
    if (!key)
      throw new AuditError(ErrorCodes.NOT_FOUND, 'blocks are not signed: no signing key is configured');
    return { key_id: key.keyId, public_key: key.pem };
  });

  app.get('/integrity/head', async () => {
    const cp = await takeCheckpoint(store);
    if (!cp) throw new AuditError(ErrorCodes.NOT_FOUND, 'no blocks yet');
    return cp;
  });

  app.get<{ Params: { id: string }; Querystring: { tenant_id?: string } }>(
    '/events/:id/proof',
    async (request) => {
      const tenantId = typeof request.query.tenant_id === 'string' ? request.query.tenant_id : 'default';
      const data = await store.integrity.proofData(request.params.id, tenantId);
      if (!data) {
        throw new AuditError(
          ErrorCodes.NOT_FOUND,
          `event ${request.params.id} is not stored in a block for tenant ${tenantId}`,
        );
      }
      const leaves = new Array<string>(data.block.count);
      for (const l of data.leaves) leaves[l.leaf_index] = l.hash;
      try {
        return buildProof(data.event, data.leafIndex, leaves, data.block);
      } catch (err) {
        // The stored rows no longer rebuild the block: `auditline verify` pinpoints why.
        throw new AuditError(
          ErrorCodes.INTERNAL,
          `block ${data.block.seq} does not verify; run auditline verify`,
          { cause: err },
        );
      }
    },
  );
}
