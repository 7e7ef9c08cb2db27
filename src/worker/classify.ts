/**
 * Error classification for the write path. Getting this wrong loses data: a pipeline that
 * treats "connection refused" as permanent drops every batch written while the database
 * restarts. So the default for anything unrecognised is `retry`, never `poison`; an event
 * that keeps failing is still bounded by the delivery limit and ends in the dead-letter
 * stream, not on the floor.
 */

/**
 * `transient`: the database or network failed; retry the same batch later, as long as it takes.
 * `data`: the batch holds an event PostgreSQL rejects; isolate it by splitting the batch.
 * `unknown`: retry a few times, then treat as `data` (bounded, so one odd event cannot stall a worker).
 */
export type ErrorClass = 'transient' | 'data' | 'unknown';

const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

// SQLSTATE classes/codes (PostgreSQL appendix A).
// 42xxx (e.g. a dropped table) is an operator's problem: retrying beats dead-lettering
// every event until it is fixed.
const TRANSIENT_SQLSTATE_PREFIXES = ['08', '53', '57P', '58', '42'];
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '55P03', '57014', '55006', '25P03']);
// Class 22 (data exception) and 23 (integrity constraint violation) are caused by a row.
const DATA_SQLSTATE_PREFIXES = ['22', '23'];

function codeOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/**
 * True for errors raised by the batch's block row rather than by an event row: no event can
 * cause them, so bisecting would dead-letter good events one by one. A unique violation on
 * `audit_blocks` means a concurrent worker took the chain position we read; retrying
 * re-reads the tail. (Found by the worker-kill fault test: every event of every conflicting
 * batch ended in the dead-letter stream.)
 */
function fromBlockTable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { table, constraint } = err as { table?: unknown; constraint?: unknown };
  return (
    table === 'audit_blocks' || (typeof constraint === 'string' && constraint.startsWith('audit_blocks'))
  );
}

/** Classifies an error raised while writing a batch. */
export function classifyError(err: unknown): ErrorClass {
  const code = codeOf(err);
  if (fromBlockTable(err)) return 'transient';
  if (code !== undefined) {
    if (TRANSIENT_NODE_CODES.has(code) || TRANSIENT_SQLSTATES.has(code)) return 'transient';
    if (/^[0-9A-Z]{5}$/.test(code)) {
      if (TRANSIENT_SQLSTATE_PREFIXES.some((p) => code.startsWith(p))) return 'transient';
      if (DATA_SQLSTATE_PREFIXES.some((p) => code.startsWith(p))) return 'data';
    }
  }
  if (err instanceof SyntaxError) return 'data'; // unparseable payload
  // Connection-level failures that pg and PGlite report without a code.
  const message = err instanceof Error ? err.message : String(err);
  if (/terminat|timeout|connect|closed|shutdown|ended|ECONN/i.test(message)) return 'transient';
  return 'unknown';
}

/** Exponential backoff with full jitter, capped. */
export function backoffMs(attempt: number, baseMs = 100, capMs = 10_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.floor(Math.random() * ceiling) + 1;
}
