/**
 * Bearer-token authentication for the `/v1` routes. Tokens are compared as SHA-256
 * digests with `timingSafeEqual`: digests have equal length whatever the token length, so
 * neither the content nor the length of a configured key leaks through response timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AuditError, ErrorCodes } from '../core/errors.js';

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

const BEARER_RE = /^Bearer[ ]+(\S+)[ ]*$/i;

/**
 * Returns an `onRequest` hook that rejects requests without one of `apiKeys` as bearer
 * token with `AUDIT_ERR_UNAUTHORIZED` (401). `apiKeys` must be non-empty.
 */
export function bearerAuth(apiKeys: readonly string[]): (request: FastifyRequest) => Promise<void> {
  if (apiKeys.length === 0) throw new TypeError('bearerAuth needs at least one API key');
  const keyDigests = apiKeys.map(digest);
  return async (request) => {
    const header = request.headers.authorization;
    const token = typeof header === 'string' ? BEARER_RE.exec(header)?.[1] : undefined;
    if (token === undefined) {
      throw new AuditError(ErrorCodes.UNAUTHORIZED, 'missing "Authorization: Bearer <api key>" header');
    }
    const presented = digest(token);
    let ok = false;
    // Compare against every key without short-circuiting, so the answer time does not
    // reveal which (or whether an early) key matched.
    for (const k of keyDigests) ok = timingSafeEqual(k, presented) || ok;
    if (!ok) throw new AuditError(ErrorCodes.UNAUTHORIZED, 'invalid API key');
  };
}
