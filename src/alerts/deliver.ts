/**
 * HTTP delivery with bounded retries. Uses Node 20's global `fetch`; never throws, because a
 * worker must keep writing audit events while Slack or PagerDuty is down.
 */
import { setTimeout as sleepMs } from 'node:timers/promises';
import type { HttpRequestSpec } from './types.js';

/** Retry and timeout bounds of one delivery. */
export interface DeliveryOptions {
  /** Retries after the first attempt. Default 3, so at most 4 requests per notification. */
  retries: number;
  /** First backoff ceiling; doubles per retry. Default 500 ms. */
  baseDelayMs: number;
  /** Upper bound of any one backoff. Default 10,000 ms. */
  maxDelayMs: number;
  /** Per-request timeout (`AbortSignal.timeout`). Default 5,000 ms. */
  timeoutMs: number;
  /** Source of jitter in [0, 1); injectable so tests are deterministic. Default `Math.random`. */
  random: () => number;
}

/** Defaults: worst case about 4 × 5 s + 0.5 + 1 + 2 s ≈ 24 s per notification and sink. */
export const DEFAULT_DELIVERY: Readonly<DeliveryOptions> = Object.freeze({
  retries: 3,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
  timeoutMs: 5_000,
  random: Math.random,
});

/** Outcome of one delivery. */
export interface DeliveryResult {
  ok: boolean;
  /** Requests made (1 + retries used). */
  attempts: number;
  /** HTTP status of the last response, when there was one. */
  status?: number;
  /** Why the last attempt failed (network error, timeout, or `HTTP <status>`). */
  error?: string;
}

/**
 * 4xx answers other than 408 (timeout) and 429 (rate limited) are permanent — a wrong
 * routing key or a revoked webhook does not fix itself — so they are not retried.
 */
function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Backoff before retry `n` (0-based): full jitter, `random × min(max, base × 2^n)`. */
export function backoffMs(
  n: number,
  opts: Pick<DeliveryOptions, 'baseDelayMs' | 'maxDelayMs' | 'random'>,
): number {
  return Math.floor(opts.random() * Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** n));
}

/** POSTs the request, retrying transient failures. Resolves with the outcome; never rejects. */
export async function deliver(
  req: HttpRequestSpec,
  options: Partial<DeliveryOptions> = {},
): Promise<DeliveryResult> {
  const opts: DeliveryOptions = { ...DEFAULT_DELIVERY, ...options };
  let last: DeliveryResult = { ok: false, attempts: 0, error: 'not attempted' };
  for (let attempt = 0; attempt <= opts.retries; attempt++) {
    // Ref'd on purpose: the wait is bounded by maxDelayMs, and an unref'd one would let a
    // process exit with an alert half-delivered.
    if (attempt > 0) await sleepMs(backoffMs(attempt - 1, opts));
    try {
      const res = await fetch(req.url, {
        method: 'POST',
        headers: req.headers,
        body: req.body,
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      // Drain the body so the keep-alive socket is released back to the pool.
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { ok: true, attempts: attempt + 1, status: res.status };
      last = { ok: false, attempts: attempt + 1, status: res.status, error: `HTTP ${res.status}` };
      if (!retryable(res.status)) return last;
    } catch (err) {
      last = { ok: false, attempts: attempt + 1, error: describe(err) };
    }
  }
  return last;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.name}: ${err.message}${cause}`;
  }
  return String(err);
}
