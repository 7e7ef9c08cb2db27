/**
 * Store selection: PostgreSQL when `DATABASE_URL` is configured (distributed mode), PGlite
 * under the data directory otherwise (embedded mode).
 */
import type { AuditlineConfig } from '../config.js';
import { createSigner } from '../core/signing.js';
import { PgliteStore } from './pglite/store.js';
import type { StoreAdapter } from './port.js';
import { PostgresStore } from './postgres/store.js';

/**
 * The store for a configuration (PostgreSQL connects lazily; PGlite starts its engine now).
 * With `signingKey` every block is signed; a bad key throws ConfigError here, at startup.
 */
export function createStore(
  config: Pick<AuditlineConfig, 'databaseUrl' | 'dataDir' | 'schema' | 'pgPoolSize'> &
    Partial<Pick<AuditlineConfig, 'signingKey'>>,
): StoreAdapter {
  const signer = config.signingKey ? createSigner(config.signingKey) : null;
  if (config.databaseUrl) {
    return new PostgresStore({
      connectionString: config.databaseUrl,
      schema: config.schema,
      poolSize: config.pgPoolSize,
      signer,
    });
  }
  return new PgliteStore({ dataDir: config.dataDir, schema: config.schema, signer });
}

export { PgliteStore, type PgliteStoreOptions } from './pglite/store.js';
export type { AppendResult, EventFilter, Page, PageRequest, StoreAdapter } from './port.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres/store.js';
