/**
 * Signing scheme of the generic webhook sink.
 *
 * Headers sent with every request:
 * - `X-Auditline-Timestamp: <unix seconds>`
 * - `X-Auditline-Signature: sha256=<hex>` where `<hex>` is
 *   `HMAC-SHA256(secret, "<timestamp>.<raw body>")`, lower-case hex.
 *
 * The timestamp is inside the signed string, so a captured request cannot be replayed later
 * with a fresh timestamp; receivers reject timestamps outside a tolerance window (default
 * 5 minutes) and compare signatures in constant time. Receivers must verify the *raw* body
 * bytes, before any JSON parsing.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the signature. Node lower-cases incoming header names. */
export const SIGNATURE_HEADER = 'X-Auditline-Signature';
/** Header carrying the signed timestamp, in unix seconds. */
export const TIMESTAMP_HEADER = 'X-Auditline-Timestamp';

/** Returns `sha256=<hex>` for a body signed at `timestampSec`. */
export function signWebhookBody(secret: string, timestampSec: number, body: string | Buffer): string {
  const mac = createHmac('sha256', secret).update(`${timestampSec}.`, 'utf8').update(body).digest('hex');
  return `sha256=${mac}`;
}

/** Inputs of {@link verifyWebhookSignature}. */
export interface VerifyWebhookInput {
  secret: string;
  /** The raw request body, exactly as received. */
  body: string | Buffer;
  /** Value of `X-Auditline-Timestamp`. */
  timestamp: string | undefined;
  /** Value of `X-Auditline-Signature`. */
  signature: string | undefined;
  /** Accepted clock difference either way, in seconds. Default 300. */
  toleranceSec?: number;
  /** The receiver's current time in epoch ms. Default `Date.now()`. */
  nowMs?: number;
}

/**
 * True when the signature matches the body and timestamp and the timestamp is within
 * `toleranceSec` of now. Pass the raw body bytes, before any JSON parsing.
 *
 * @example
 * ```ts
 * app.post('/hooks/auditline', express.raw({ type: 'application/json' }), (req, res) => {
 *   const ok = verifyWebhookSignature({
 *     secret,
 *     body: req.body,
 *     timestamp: req.get('x-auditline-timestamp'),
 *     signature: req.get('x-auditline-signature'),
 *   });
 *   res.sendStatus(ok ? 204 : 401);
 * });
 * ```
 */
export function verifyWebhookSignature(input: VerifyWebhookInput): boolean {
  const { secret, timestamp, signature } = input;
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  const ts = Number(timestamp);
  const nowSec = Math.floor((input.nowMs ?? Date.now()) / 1000);
  if (Math.abs(nowSec - ts) > (input.toleranceSec ?? 300)) return false;
  const expected = Buffer.from(signWebhookBody(secret, ts, input.body), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
