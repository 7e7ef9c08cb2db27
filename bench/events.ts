/**
 * Realistic events: about 400 bytes of JSON input with metadata, 95 % `info` and 5 %
 * `critical`, a handful of event types and many users and resources. Deterministic (a
 * seeded PRNG), so every run and every part logs the same mix.
 * Imports nothing at run time: load-generator children run it beside dist/.
 */
import type { AuditEventInput } from '../src/core/event.js';

/** Share of events in the `critical` category. */
export const CRITICAL_SHARE = 0.05;

const ACTIONS = [
  ['document.update', 'document', 'Updated'],
  ['document.view', 'document', 'Viewed'],
  ['invoice.approve', 'invoice', 'Approved'],
  ['user.login', 'session', 'Signed in to'],
  ['permission.grant', 'role', 'Granted'],
  ['api_key.rotate', 'api_key', 'Rotated'],
] as const;

const AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0',
];

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One event as an application would pass it to `log()` (no id, no created_at). */
export function makeInput(rand: () => number): AuditEventInput {
  const int = (n: number) => Math.floor(rand() * n);
  const hex = (len: number) => {
    let s = '';
    while (s.length < len) s += int(0x10000).toString(16).padStart(4, '0');
    return s.slice(0, len);
  };
  const [eventType, resourceType, verb] = ACTIONS[int(ACTIONS.length)]!;
  const resourceId = `${resourceType}-${int(1_000_000)}`;
  return {
    tenant_id: `tenant-${int(20)}`,
    user_id: `user-${int(50_000)}`,
    resource_type: resourceType,
    resource_id: resourceId,
    event_type: eventType,
    event_category: rand() < CRITICAL_SHARE ? 'critical' : 'info',
    description: `${verb} ${resourceId} via the web app`,
    metadata: {
      request_id: hex(16),
      changes: { field: 'title', to: 'Q3 report' },
      duration_ms: int(500),
    },
    ip_address: rand() < 0.8 ? `10.${int(256)}.${int(256)}.${int(256)}` : `2001:db8::${hex(4)}`,
    user_agent: AGENTS[int(AGENTS.length)]!,
  };
}

/** A pool of inputs, reused round-robin: `log()` never mutates its argument. */
export function makeInputPool(size: number, seed = 1): AuditEventInput[] {
  const rand = prng(seed);
  return Array.from({ length: size }, () => makeInput(rand));
}
