/**
 * Canonical form and hash of an event. The canonical form is RFC 8785 (JSON
 * Canonicalization Scheme) of the event's fields plus the schema version `v`; the hash is
 * SHA-256 of its UTF-8 bytes, hex-encoded. Only values that read back identically from
 * PostgreSQL enter it: `created_at` at millisecond precision, IPs in normalized form,
 * metadata as plain JSON.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { type AuditEvent, EVENT_SCHEMA_VERSION, type UnhashedEvent } from './event.js';

/** The RFC 8785 canonical JSON text of an event (its `hash` field, if any, is excluded). */
export function canonicalForm(e: UnhashedEvent): string {
  const text = canonicalize({
    v: EVENT_SCHEMA_VERSION,
    id: e.id,
    tenant_id: e.tenant_id,
    user_id: e.user_id,
    resource_type: e.resource_type,
    resource_id: e.resource_id,
    event_type: e.event_type,
    event_category: e.event_category,
    description: e.description,
    metadata: e.metadata,
    ip_address: e.ip_address,
    user_agent: e.user_agent,
    created_at: e.created_at,
    producer_id: e.producer_id,
    producer_seq: e.producer_seq,
  });
  if (text === undefined) throw new TypeError('event is not canonicalizable');
  return text;
}

/** Hex SHA-256 of the event's canonical form. */
export function hashEvent(e: UnhashedEvent): string {
  return createHash('sha256').update(canonicalForm(e), 'utf8').digest('hex');
}

/** Returns the event with its hash attached. */
export function sealEvent(e: UnhashedEvent): AuditEvent {
  return { ...e, hash: hashEvent(e) };
}

/** True when the event's stored hash matches its content. */
export function verifyEventHash(e: AuditEvent): boolean {
  return hashEvent(e) === e.hash;
}
