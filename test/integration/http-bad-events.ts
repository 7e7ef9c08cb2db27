/**
 * One bad event per "Bad input" item of issue 2 that concerns a single event, with the
 * field and code the API must report it with.
 */
import { ErrorCodes } from '../../src/core/errors.js';

function nested(depth: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let cur = root;
  for (let i = 1; i < depth; i++) {
    const next: Record<string, unknown> = {};
    cur.n = next;
    cur = next;
  }
  return root;
}

/** One bad event per "Bad input" item of issue 2, with the field and code it must be reported with. */
export const BAD_EVENTS: { name: string; event: unknown; field: string; code: string }[] = [
  {
    name: 'missing event_type',
    event: { user_id: 'u' },
    field: 'event_type',
    code: ErrorCodes.FIELD_REQUIRED,
  },
  { name: 'empty event_type', event: { event_type: '' }, field: 'event_type', code: ErrorCodes.FIELD_EMPTY },
  ...['tenant_id', 'user_id', 'resource_type', 'resource_id', 'event_type', 'event_category', 'description']
    .concat(['user_agent', 'ip_address'])
    .map((field) => ({
      name: `wrong type: ${field}`,
      event: { event_type: 'a', [field]: 42 },
      field,
      code: ErrorCodes.FIELD_TYPE,
    })),
  { name: 'wrong type: id', event: { event_type: 'a', id: 7 }, field: 'id', code: ErrorCodes.INVALID_ID },
  {
    name: 'wrong type: created_at',
    event: { event_type: 'a', created_at: true },
    field: 'created_at',
    code: ErrorCodes.INVALID_TIMESTAMP,
  },
  {
    name: 'unknown field',
    event: { event_type: 'a', actor: 'me' },
    field: 'actor',
    code: ErrorCodes.UNKNOWN_FIELD,
  },
  {
    name: 'metadata not an object',
    event: { event_type: 'a', metadata: [1, 2] },
    field: 'metadata',
    code: ErrorCodes.METADATA_TYPE,
  },
  {
    name: 'metadata deeper than 16 levels',
    event: { event_type: 'a', metadata: nested(17) },
    field: 'metadata.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n',
    code: ErrorCodes.METADATA_TOO_DEEP,
  },
  {
    name: 'metadata over 32 KiB',
    event: { event_type: 'a', metadata: { s: 'x'.repeat(33 * 1024) } },
    field: 'metadata',
    code: ErrorCodes.METADATA_TOO_LARGE,
  },
  {
    name: 'NUL in a string',
    event: { event_type: 'a', description: 'x\u0000y' },
    field: 'description',
    code: ErrorCodes.INVALID_STRING,
  },
  {
    name: 'NUL in metadata',
    event: { event_type: 'a', metadata: { k: 'x\u0000' } },
    field: 'metadata.k',
    code: ErrorCodes.INVALID_STRING,
  },
  {
    name: 'lone surrogate',
    event: { event_type: 'a', user_id: 'x\ud800' },
    field: 'user_id',
    code: ErrorCodes.INVALID_STRING,
  },
  {
    name: 'string over its limit',
    event: { event_type: 'e'.repeat(129) },
    field: 'event_type',
    code: ErrorCodes.STRING_TOO_LONG,
  },
  {
    name: 'invalid IP address',
    event: { event_type: 'a', ip_address: '256.1.1.1' },
    field: 'ip_address',
    code: ErrorCodes.INVALID_IP,
  },
  {
    name: 'created_at not a timestamp',
    event: { event_type: 'a', created_at: 'last tuesday' },
    field: 'created_at',
    code: ErrorCodes.INVALID_TIMESTAMP,
  },
  {
    name: 'created_at too far in the future',
    event: { event_type: 'a', created_at: new Date(Date.now() + 3_600_000).toISOString() },
    field: 'created_at',
    code: ErrorCodes.TIMESTAMP_OUT_OF_BOUNDS,
  },
  { name: 'id not a UUID', event: { event_type: 'a', id: 'abc' }, field: 'id', code: ErrorCodes.INVALID_ID },
  {
    name: 'unknown category',
    event: { event_type: 'a', event_category: 'shouty' },
    field: 'event_category',
    code: ErrorCodes.UNKNOWN_CATEGORY,
  },
  { name: 'not an object', event: 42, field: '(event)', code: ErrorCodes.NOT_AN_OBJECT },
  { name: 'null', event: null, field: '(event)', code: ErrorCodes.NOT_AN_OBJECT },
];
