/**
 * Shared by the integrity tests: sealed events, stores on a schema of their own, and
 * superuser tampering with the append-only triggers switched off for one transaction.
 */

import pg from 'pg';
import { sealEvent } from '../../../src/core/canonical.js';
import type { AuditEvent } from '../../../src/core/event.js';
import type { Signer } from '../../../src/core/signing.js';
import { validateEvent } from '../../../src/core/validate.js';
import { PostgresStore } from '../../../src/store/postgres/store.js';
import { DATABASE_URL } from '../../helpers/env.js';

let counter = 0;

/** `n` sealed events created at `at` (ms) plus a few ms each, stamped by `producer`. */
export function makeEvents(
  n: number,
  opts: { at?: number; producer?: string; firstSeq?: number; tenant?: string } = {},
): AuditEvent[] {
  const at = opts.at ?? Date.now() - 60_000;
  return Array.from({ length: n }, (_, i) => {
    const e = validateEvent(
      {
        tenant_id: opts.tenant ?? 'acme',
        event_type: 'doc.update',
        resource_type: 'doc',
        resource_id: `d-${counter++}`,
        description: `edit ${i}`,
        metadata: { i },
        created_at: at + i,
      },
      undefined,
      at + n,
    );
    return sealEvent({
      ...e,
      producer_id: opts.producer ?? null,
      producer_seq: opts.producer ? (opts.firstSeq ?? 1) + i : null,
    });
  });
}

/** A migrated PostgresStore on `schema`. */
export async function pgStore(schema: string, signer?: Signer | null): Promise<PostgresStore> {
  const s = new PostgresStore({
    connectionString: DATABASE_URL,
    schema,
    poolSize: 2,
    signer: signer ?? null,
  });
  await s.migrate();
  return s;
}

/** Runs statements as superuser with user triggers off (what an attacker with DB admin rights does). */
export async function tamper(statements: [string, unknown[]?][]): Promise<void> {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query('SET LOCAL session_replication_role = replica');
    for (const [text, params] of statements) await c.query(text, params ?? []);
    await c.query('COMMIT');
  } finally {
    await c.end();
  }
}

/** Each stored row's block seq and leaf index, by event id. */
export async function placements(
  schema: string,
): Promise<Map<string, { seq: number; leaf: number; blockId: string }>> {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    const { rows } = await c.query<{ id: string; seq: string; leaf: number; block_id: string }>(
      `SELECT l.id::text AS id, b.seq::text AS seq, l.leaf_index AS leaf, l.block_id::text AS block_id
       FROM "${schema}".audit_logs l JOIN "${schema}".audit_blocks b USING (block_id)`,
    );
    return new Map(rows.map((r) => [r.id, { seq: Number(r.seq), leaf: r.leaf, blockId: r.block_id }]));
  } finally {
    await c.end();
  }
}
