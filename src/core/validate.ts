/**
 * Validation and normalization of incoming events. Everything a worker or PostgreSQL
 * could reject later is rejected here, with a coded error, so that an accepted event
 * always reaches `audit_logs` and its hash always verifies after the round trip.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { NEEDS_ESCAPE, sortedKeys } from './canonical.js';
import { ErrorCodes, EventValidationError, type FieldIssue } from './errors.js';
import { INPUT_FIELDS, type JsonObject, STRING_LIMITS, type UnhashedEvent } from './event.js';
import { newEventId } from './ids.js';

export interface ValidationOptions {
  /** Allowed values of `event_category`. */
  categories: readonly string[];
  /** How far in the future a supplied `created_at` may be (clock skew). Default 5 minutes. */
  maxFutureSkewMs: number;
  /** How far in the past a supplied `created_at` may be. Default 30 days. */
  maxPastMs: number;
  /** Maximum nesting depth of `metadata` (the object itself is depth 1). Default 16. */
  metadataMaxDepth: number;
  /** Maximum size of `metadata` as UTF-8 JSON. Default 32 KiB. */
  metadataMaxBytes: number;
}

export const DEFAULT_VALIDATION: ValidationOptions = Object.freeze({
  categories: Object.freeze(['critical', 'info']),
  maxFutureSkewMs: 5 * 60_000,
  maxPastMs: 30 * 24 * 3_600_000,
  metadataMaxDepth: 16,
  metadataMaxBytes: 32 * 1024,
});

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ALLOWED = new Set<string>(INPUT_FIELDS);
/**
 * Why a string cannot be stored, or null when it can: PostgreSQL's text type cannot hold
 * NUL, and UTF-8 cannot encode a lone surrogate.
 */
export function badStringReason(s: string): string | null {
  if (s.includes('\0')) return 'contains a NUL character';
  if (!s.isWellFormed()) return 'contains a lone UTF-16 surrogate';
  return null;
}

/**
 * Normalizes an IP address to one textual form per address, so that the value hashed by
 * the producer equals the value read back from PostgreSQL's `inet` after the same
 * normalization. Returns null when the text is not a plain IPv4/IPv6 host address.
 */
export function normalizeIp(text: string): string | null {
  if (isIPv4(text)) return text;
  if (!isIPv6(text) || text.includes('%')) return null; // zone ids are not storable in inet
  try {
    // The WHATWG URL host serializer prints RFC 5952's form (lower case, longest zero run
    // compressed, embedded IPv4 as hex). Not ipaddr.js: it parses any dotted tail as
    // IPv4-mapped, turning `::1.2.3.4` (and PostgreSQL's `host()` output `::0.1.0.0` for
    // `::1:0`) into `::ffff:…`, a different address whose hash then fails after a round trip.
    return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

/** Normalizes a timestamp to ISO-8601 UTC with millisecond precision, or null when invalid. */
export function normalizeTimestamp(value: unknown): string | null {
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') {
    // Require an explicit date and, when a time is given, an explicit offset: a local
    // time would be interpreted in the producer's time zone.
    if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/i.test(value))
      return null;
    ms = Date.parse(value);
  } else return null;
  if (!Number.isFinite(ms) || !Number.isInteger(Math.trunc(ms))) return null;
  ms = Math.floor(ms);
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  if (Number.isNaN(d.getTime()) || y < 1970 || y > 9999) return null;
  return d.toISOString();
}

// The default created_at: one Date and toISOString (~0.5 µs) per millisecond, not per event.
let isoMs = Number.NaN;
let isoText = '';
function isoAt(ms: number): string {
  if (ms !== isoMs) {
    isoText = new Date(ms).toISOString();
    isoMs = ms;
  }
  return isoText;
}

function checkString(
  issues: FieldIssue[],
  field: keyof typeof STRING_LIMITS,
  value: unknown,
  nullable: boolean,
): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) {
    if (nullable) return null;
    issues.push({ field, code: ErrorCodes.FIELD_TYPE, message: 'must be a string, not null' });
    return undefined;
  }
  if (typeof value !== 'string') {
    issues.push({
      field,
      code: ErrorCodes.FIELD_TYPE,
      message: `must be a string${nullable ? ' or null' : ''}`,
    });
    return undefined;
  }
  const limit = STRING_LIMITS[field];
  if (value.length > limit) {
    issues.push({ field, code: ErrorCodes.STRING_TOO_LONG, message: `longer than ${limit} characters` });
    return undefined;
  }
  const bad = badStringReason(value);
  if (bad) {
    issues.push({ field, code: ErrorCodes.INVALID_STRING, message: bad });
    return undefined;
  }
  return value;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Walks metadata; reports the first problem (path + code) or null when it is plain JSON.
 * Exported for the tests that hold {@link canonicalMetadata} to it.
 */
export function checkJson(value: unknown, path: string, depth: number, maxDepth: number): FieldIssue | null {
  if (value === null || typeof value === 'boolean') return null;
  if (typeof value === 'string') {
    const bad = badStringReason(value);
    return bad ? { field: path, code: ErrorCodes.INVALID_STRING, message: bad } : null;
  }
  if (typeof value === 'number') {
    return Number.isFinite(value)
      ? null
      : { field: path, code: ErrorCodes.METADATA_TYPE, message: 'numbers must be finite' };
  }
  if (Array.isArray(value) || isPlainObject(value)) {
    if (depth > maxDepth) {
      return {
        field: path,
        code: ErrorCodes.METADATA_TOO_DEEP,
        message: `nested deeper than ${maxDepth} levels`,
      };
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const issue = checkJson(value[i], `${path}[${i}]`, depth + 1, maxDepth);
        if (issue) return issue;
      }
      return null;
    }
    for (const key of Object.keys(value)) {
      const bad = badStringReason(key);
      if (bad) return { field: `${path}.${key}`, code: ErrorCodes.INVALID_STRING, message: `key ${bad}` };
      const issue = checkJson(value[key], `${path}.${key}`, depth + 1, maxDepth);
      if (issue) return issue;
    }
    return null;
  }
  return {
    field: path,
    code: ErrorCodes.METADATA_TYPE,
    message: `${value === undefined ? 'undefined' : typeof value === 'object' ? 'non-plain object' : typeof value} is not a JSON value`,
  };
}

/**
 * RFC 8785 canonical text of a JSON value (what `canonicalJson` returns), or undefined when
 * checkJson would report a problem: it checks the same things while it writes the text.
 */
function serializeJson(value: unknown, depth: number, maxDepth: number): string | undefined {
  if (typeof value === 'string') {
    // Nearly every string is plain: no NUL, no surrogate, nothing to escape.
    if (!NEEDS_ESCAPE.test(value)) return `"${value}"`;
    return badStringReason(value) === null ? JSON.stringify(value) : undefined;
  }
  if (typeof value === 'number') return Number.isFinite(value) ? `${value}` : undefined;
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (depth > maxDepth) return undefined; // too deep, or not JSON at all: either way rejected
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const item = serializeJson(value[i], depth + 1, maxDepth);
      if (item === undefined) return undefined;
      out += i === 0 ? item : `,${item}`;
    }
    return `${out}]`;
  }
  if (!isPlainObject(value)) return undefined;
  const keys = sortedKeys(value);
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    let key = `"${k}"`;
    if (NEEDS_ESCAPE.test(k)) {
      if (badStringReason(k) !== null) return undefined;
      key = JSON.stringify(k);
    }
    const item = serializeJson(value[k], depth + 1, maxDepth);
    if (item === undefined) return undefined;
    out += `${i === 0 ? '' : ','}${key}:${item}`;
  }
  return `${out}}`;
}

/**
 * Checks metadata and returns its RFC 8785 canonical text, or the problem
 * {@link checkJson} reports. One walk replaces three (check, `JSON.stringify` for the size,
 * `canonicalJson` for the hash); invalid metadata is walked again by checkJson, so the
 * reported issue is the first in insertion order, as before, not in sorted key order.
 */
export function canonicalMetadata(value: Record<string, unknown>, maxDepth: number): string | FieldIssue {
  const text = serializeJson(value, 1, maxDepth);
  if (text !== undefined) return text;
  return (
    checkJson(value, 'metadata', 1, maxDepth) ?? {
      // Only reachable when getters or proxies answer differently on the second walk.
      field: 'metadata',
      code: ErrorCodes.METADATA_TYPE,
      message: 'changed while being validated',
    }
  );
}

/** A validated event and the canonical text of its metadata (sealing reuses it). */
export interface ValidatedEvent {
  event: UnhashedEvent;
  metadataJson: string;
}

/**
 * Validates an input event and returns its normalized form (without hash), or throws
 * {@link EventValidationError} listing every problem found.
 */
export function validateEvent(
  input: unknown,
  options: ValidationOptions = DEFAULT_VALIDATION,
  now: number = Date.now(),
): UnhashedEvent {
  return validateEventWithJson(input, options, now).event;
}

/** {@link validateEvent}, also returning the metadata's canonical text for `sealAndEncode`. */
export function validateEventWithJson(
  input: unknown,
  options: ValidationOptions = DEFAULT_VALIDATION,
  now: number = Date.now(),
): ValidatedEvent {
  const issues: FieldIssue[] = [];
  if (!isPlainObject(input)) {
    throw new EventValidationError([
      { field: '(event)', code: ErrorCodes.NOT_AN_OBJECT, message: 'an event must be a JSON object' },
    ]);
  }
  const e = input as Record<string, unknown>;
  for (const key of Object.keys(e)) {
    if (!ALLOWED.has(key))
      issues.push({ field: key, code: ErrorCodes.UNKNOWN_FIELD, message: 'unknown field' });
  }

  let id: string | undefined;
  if (e.id !== undefined) {
    if (typeof e.id !== 'string' || !UUID_RE.test(e.id)) {
      issues.push({ field: 'id', code: ErrorCodes.INVALID_ID, message: 'must be a UUID string' });
    } else id = e.id.toLowerCase();
  }

  const eventType = checkString(issues, 'event_type', e.event_type, false);
  if (e.event_type === undefined) {
    issues.push({ field: 'event_type', code: ErrorCodes.FIELD_REQUIRED, message: 'is required' });
  } else if (eventType === '' || (typeof eventType === 'string' && eventType.trim() === '')) {
    issues.push({ field: 'event_type', code: ErrorCodes.FIELD_EMPTY, message: 'must not be empty' });
  }
  const tenant = checkString(issues, 'tenant_id', e.tenant_id, false);
  if (tenant === '')
    issues.push({ field: 'tenant_id', code: ErrorCodes.FIELD_EMPTY, message: 'must not be empty' });
  const category = checkString(issues, 'event_category', e.event_category, false);
  if (typeof category === 'string' && !options.categories.includes(category)) {
    issues.push({
      field: 'event_category',
      code: ErrorCodes.UNKNOWN_CATEGORY,
      message: `must be one of: ${options.categories.join(', ')}`,
    });
  }
  const userId = checkString(issues, 'user_id', e.user_id, true);
  const resourceType = checkString(issues, 'resource_type', e.resource_type, true);
  const resourceId = checkString(issues, 'resource_id', e.resource_id, true);
  const description = checkString(issues, 'description', e.description, true);
  const userAgent = checkString(issues, 'user_agent', e.user_agent, true);
  const ipText = checkString(issues, 'ip_address', e.ip_address, true);
  let ip: string | null = null;
  if (typeof ipText === 'string') {
    const n = normalizeIp(ipText);
    if (n === null)
      issues.push({
        field: 'ip_address',
        code: ErrorCodes.INVALID_IP,
        message: 'not an IPv4 or IPv6 address',
      });
    else ip = n;
  }

  let metadata: JsonObject = {};
  let metadataJson = '{}';
  if (e.metadata !== undefined && e.metadata !== null) {
    if (!isPlainObject(e.metadata)) {
      issues.push({ field: 'metadata', code: ErrorCodes.METADATA_TYPE, message: 'must be a JSON object' });
    } else {
      const text = canonicalMetadata(e.metadata, options.metadataMaxDepth);
      if (typeof text !== 'string') issues.push(text);
      else {
        // The canonical text has the members JSON.stringify writes, in sorted order: the same
        // byte count. (Except where JSON.stringify would call a `toJSON` method checkJson does
        // not see — non-enumerable, or on an array: it was never stored nor hashed, and no
        // longer counts toward the size either.) UTF-8 needs at most 3 bytes per UTF-16 unit,
        // so for short texts the length (a lower bound) settles it without counting.
        const max = options.metadataMaxBytes;
        const bytes = text.length * 3 <= max ? text.length : Buffer.byteLength(text, 'utf8');
        if (bytes > max) {
          issues.push({
            field: 'metadata',
            code: ErrorCodes.METADATA_TOO_LARGE,
            message: `${bytes} bytes serialized; the limit is ${max}`,
          });
        } else {
          metadata = e.metadata as JsonObject;
          metadataJson = text;
        }
      }
    }
  }

  let createdAt: string | null = isoAt(now);
  if (e.created_at !== undefined) {
    createdAt = normalizeTimestamp(e.created_at);
    if (createdAt === null) {
      issues.push({
        field: 'created_at',
        code: ErrorCodes.INVALID_TIMESTAMP,
        message: 'must be an ISO-8601 timestamp with a time zone, epoch milliseconds or a Date',
      });
    } else {
      const t = Date.parse(createdAt);
      if (t > now + options.maxFutureSkewMs || t < now - options.maxPastMs) {
        issues.push({
          field: 'created_at',
          code: ErrorCodes.TIMESTAMP_OUT_OF_BOUNDS,
          message: `must be within ${options.maxPastMs} ms before and ${options.maxFutureSkewMs} ms after now`,
        });
      }
    }
  }

  if (issues.length > 0) throw new EventValidationError(issues);
  const event: UnhashedEvent = {
    id: id ?? newEventId(),
    tenant_id: tenant ?? 'default',
    user_id: userId ?? null,
    resource_type: resourceType ?? null,
    resource_id: resourceId ?? null,
    event_type: eventType as string,
    event_category: category ?? 'info',
    description: description ?? null,
    metadata,
    ip_address: ip,
    user_agent: userAgent ?? null,
    created_at: createdAt as string,
    producer_id: null,
    producer_seq: null,
  };
  return { event, metadataJson };
}
