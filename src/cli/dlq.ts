/**
 * `auditline dlq list | show | replay | purge`: the dead-letter stream, where workers put
 * events PostgreSQL rejected (isolated by bisecting their batch) and entries delivered more
 * than `AUDITLINE_MAX_DELIVERIES` times.
 *
 * `replay` never trusts a dead letter: a payload goes back into the queue only if it parses,
 * passes the same validation as `log()`, and re-seals to the hash it carries (so nothing was
 * altered since the producer sealed it). Everything else stays where it is, with the reason.
 */
import { Command } from 'commander';
import { type AuditlineConfig, loadConfig } from '../config.js';
import { sealEvent } from '../core/canonical.js';
import { AuditError, ConfigError, ErrorCodes, EventValidationError } from '../core/errors.js';
import { type AuditEvent, INPUT_FIELDS } from '../core/event.js';
import type { ValidationOptions } from '../core/validate.js';
import { validateEvent } from '../core/validate.js';
import { createQueue } from '../queue/index.js';
import type { DeadLetter, QueueAdapter } from '../queue/port.js';
import {
  action,
  addConnectionOptions,
  type ConnectionFlags,
  connectionOverrides,
  intArg,
} from './options.js';

interface DlqFlags extends ConnectionFlags {
  json?: boolean;
  limit?: number;
  all?: boolean;
  yes?: boolean;
}

/** Dead letters read when looking entries up by id (the stream is meant to stay small). */
const LOOKUP_MAX = 1_000_000;

/** Result of re-validating one dead letter. */
export type Revalidation = { ok: true; event: AuditEvent } | { ok: false; reason: string };

/**
 * Checks that a dead letter's payload is an event `log()` would accept, unchanged since it
 * was sealed. The time window is checked as of `at` (when it was dead-lettered): an old
 * event is not invalid merely because it waited in the dead-letter stream.
 */
export function revalidate(payload: string, validation: ValidationOptions, at: number): Revalidation {
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch (err) {
    return { ok: false, reason: `payload is not JSON: ${(err as Error).message}` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: 'payload is not a JSON object' };
  }
  const r = raw as Record<string, unknown>;
  const input: Record<string, unknown> = {};
  for (const f of INPUT_FIELDS) if (r[f] !== undefined) input[f] = r[f];
  let fields: ReturnType<typeof validateEvent>;
  try {
    fields = validateEvent(input, validation, at);
  } catch (err) {
    if (!(err instanceof EventValidationError)) throw err;
    return { ok: false, reason: err.issues.map((i) => `${i.field}: ${i.message}`).join('; ') };
  }
  const producerId = r.producer_id ?? null;
  const producerSeq = r.producer_seq ?? null;
  if (producerId !== null && typeof producerId !== 'string')
    return { ok: false, reason: 'producer_id: not a string' };
  if (producerSeq !== null && !Number.isSafeInteger(producerSeq)) {
    return { ok: false, reason: 'producer_seq: not an integer' };
  }
  if (typeof r.id !== 'string' || fields.id !== r.id)
    return { ok: false, reason: 'id: missing or not normalized' };
  const event = sealEvent({ ...fields, producer_id: producerId, producer_seq: producerSeq as number | null });
  if (event.hash !== r.hash) {
    return {
      ok: false,
      reason: `hash mismatch: the payload re-seals to ${event.hash}, it carries ${String(r.hash)} (altered after sealing, or not normalized)`,
    };
  }
  return { ok: true, event };
}

/** Outcome of replaying one dead letter. */
export interface DlqReplayResult {
  deadId: string;
  eventId: string | null;
  /** `requeued` (and removed from the dead-letter stream), `invalid` or `queue-full` (both kept). */
  result: 'requeued' | 'invalid' | 'queue-full';
  reason?: string;
}

/** Re-validates and re-enqueues dead letters; removes exactly those the queue accepted. */
export async function replayDeadLetters(
  queue: QueueAdapter,
  letters: readonly DeadLetter[],
  validation: ValidationOptions,
): Promise<DlqReplayResult[]> {
  const out: DlqReplayResult[] = [];
  const valid: { letter: DeadLetter; event: AuditEvent }[] = [];
  for (const letter of letters) {
    const at = Date.parse(letter.firstSeenAt);
    const v = revalidate(letter.payload, validation, Number.isNaN(at) ? Date.now() : at);
    if (v.ok) valid.push({ letter, event: v.event });
    else
      out.push({
        deadId: letter.deadId,
        eventId: eventIdOf(letter.payload),
        result: 'invalid',
        reason: v.reason,
      });
  }
  if (valid.length === 0) return out;
  const statuses = await queue.enqueue(valid.map((v) => JSON.stringify(v.event)));
  const accepted = valid.filter((_, i) => statuses[i] === 'queued');
  // Enqueued first, removed second: a crash in between leaves a copy in both places, which
  // the store absorbs (one row per id); the other order could lose the event.
  await queue.removeDeadLetters(accepted.map((v) => v.letter.deadId));
  valid.forEach((v, i) => {
    out.push(
      statuses[i] === 'queued'
        ? { deadId: v.letter.deadId, eventId: v.event.id, result: 'requeued' }
        : {
            deadId: v.letter.deadId,
            eventId: v.event.id,
            result: 'queue-full',
            reason: 'the queue is at its cap',
          },
    );
  });
  return out;
}

function eventIdOf(payload: string): string | null {
  try {
    const id = (JSON.parse(payload) as { id?: unknown }).id;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}

function eventTypeOf(payload: string): string | null {
  try {
    const t = (JSON.parse(payload) as { event_type?: unknown }).event_type;
    return typeof t === 'string' ? t : null;
  } catch {
    return null;
  }
}

/** A dead letter with the event fields the listing shows. */
function summary(d: DeadLetter) {
  return {
    deadId: d.deadId,
    reason: d.reason,
    deliveries: d.deliveries,
    firstSeenAt: d.firstSeenAt,
    eventId: eventIdOf(d.payload),
    eventType: eventTypeOf(d.payload),
  };
}

/** The listing as a text table. */
export function renderList(letters: readonly DeadLetter[]): string {
  if (letters.length === 0) return 'no dead letters\n';
  const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
  const lines = letters.map((d) => {
    const s = summary(d);
    return [
      s.deadId.padEnd(17),
      String(s.deliveries).padStart(3),
      s.firstSeenAt.padEnd(24),
      (s.eventId ?? '-').padEnd(36),
      cut(s.eventType ?? '-', 24).padEnd(24),
      cut(s.reason, 80),
    ].join('  ');
  });
  const head = [
    'ID'.padEnd(17),
    'DLV',
    'FIRST SEEN'.padEnd(24),
    'EVENT ID'.padEnd(36),
    'EVENT TYPE'.padEnd(24),
    'REASON',
  ];
  return `${[head.join('  '), ...lines].join('\n')}\n`;
}

async function withQueue<T>(
  flags: DlqFlags,
  fn: (q: QueueAdapter, c: Readonly<AuditlineConfig>) => Promise<T>,
): Promise<T> {
  const config = loadConfig(connectionOverrides(flags));
  const queue = createQueue(config);
  try {
    if (config.mode === 'embedded') {
      // The embedded queue (and its dead-letter file) belongs to one process at a time.
      try {
        await queue.init();
      } catch (err) {
        if (err instanceof AuditError && err.code === ErrorCodes.JOURNAL_LOCKED) {
          throw new AuditError(
            ErrorCodes.JOURNAL_LOCKED,
            `embedded mode: the queue under ${config.dataDir}/queue is open in another process ` +
              '(`auditline serve`?); its dead letters can be managed once it has stopped',
            { cause: err },
          );
        }
        throw err;
      }
    }
    return await fn(queue, config);
  } finally {
    await queue.close();
  }
}

/** The dead letters named by `ids`, or all with `--all`; unknown ids are an error. */
async function select(queue: QueueAdapter, ids: string[], all: boolean | undefined): Promise<DeadLetter[]> {
  if (all === ids.length > 0) throw new ConfigError('name dead-letter ids, or pass --all (not both)');
  const letters = await queue.listDeadLetters(LOOKUP_MAX);
  if (all) return letters;
  const byId = new Map(letters.map((d) => [d.deadId, d]));
  const missing = ids.filter((id) => !byId.has(id));
  if (missing.length > 0) throw new ConfigError(`no dead letter with id ${missing.join(', ')}`);
  return ids.map((id) => byId.get(id) as DeadLetter);
}

const print = (flags: DlqFlags, json: unknown, text: string) =>
  process.stdout.write(flags.json ? `${JSON.stringify(json, null, 2)}\n` : text);

/** Builds the `dlq` command with `list`, `show`, `replay` and `purge`. */
export function dlqCommand(): Command {
  const cmd = new Command('dlq')
    .summary('list, inspect, replay or purge dead letters')
    .description(
      'Workers move an event to the dead-letter stream (<key prefix>:dead in Redis) when ' +
        'PostgreSQL rejects it with a data error (its batch is split until it is isolated; the ' +
        'rest commit) or when its entry was delivered more than AUDITLINE_MAX_DELIVERIES times ' +
        '(default 5). Each keeps its payload, the error, the delivery count and when it was ' +
        'first dead-lettered.\n\n' +
        'Distributed mode: the dead letters are in Redis and can be managed while workers run. ' +
        'Embedded mode: they are in <data dir>/queue/dead-letters.json, owned by the process that ' +
        'has the data directory open; stop `auditline serve` first (a replayed event is then ' +
        'stored when it next starts).',
    );
  const common = (c: Command) => addConnectionOptions(c.option('--json', 'print JSON instead of text'));

  const list = common(
    new Command('list')
      .summary('list dead letters, oldest first')
      .option('--limit <n>', 'at most this many (default 100)', intArg),
  );
  list.action(
    action(async (flags: DlqFlags) => {
      await withQueue(flags, async (q) => {
        const letters = await q.listDeadLetters(flags.limit ?? 100);
        print(flags, letters.map(summary), renderList(letters));
      });
    }),
  );

  const show = common(new Command('show').summary('print one dead letter with its payload').argument('<id>'));
  show.action(
    action(async (id: string, flags: DlqFlags) => {
      await withQueue(flags, async (q, config) => {
        const [d] = await select(q, [id], false);
        if (!d) return;
        let payload: unknown = d.payload;
        try {
          payload = JSON.parse(d.payload);
        } catch {
          // shown as the raw text it is
        }
        const at = Date.parse(d.firstSeenAt);
        const check = revalidate(d.payload, config.validation, Number.isNaN(at) ? Date.now() : at);
        const json = {
          ...summary(d),
          payload,
          replayable: check.ok,
          ...(check.ok ? {} : { invalid: check.reason }),
        };
        const text =
          `id           ${d.deadId}\nreason       ${d.reason}\ndeliveries   ${d.deliveries}\n` +
          `first seen   ${d.firstSeenAt}\nreplayable   ${check.ok ? 'yes' : `no: ${check.reason}`}\n` +
          `payload\n${JSON.stringify(payload, null, 2)}\n`;
        print(flags, json, text);
      });
    }),
  );

  const replay = common(
    new Command('replay')
      .summary('re-validate dead letters and put the valid ones back into the queue')
      .description(
        'Each payload must parse, pass the same validation as log() (its created_at window judged ' +
          'as of when it was dead-lettered), and re-seal to the hash it carries. Valid ones are ' +
          'enqueued (within the queue cap) and then removed from the dead-letter stream; the ' +
          'others stay, and the report says why. Exits 1 if any was not re-enqueued.',
      )
      .argument('[ids...]', 'dead-letter ids (from dlq list)')
      .option('--all', 'every dead letter'),
  );
  replay.action(
    action(async (ids: string[], flags: DlqFlags) => {
      await withQueue(flags, async (q, config) => {
        const letters = await select(q, ids, flags.all);
        const results = await replayDeadLetters(q, letters, config.validation);
        const text = results
          .map((r) => `${r.deadId}  ${r.eventId ?? '-'}  ${r.result}${r.reason ? `: ${r.reason}` : ''}\n`)
          .join('');
        print(flags, results, text || 'no dead letters\n');
        if (results.some((r) => r.result !== 'requeued')) process.exitCode = 1;
      });
    }),
  );

  const purge = common(
    new Command('purge')
      .summary('delete dead letters for good (needs --yes)')
      .description(
        'Deletes the named dead letters, or all with --all. Their events are then gone: say --yes.',
      )
      .argument('[ids...]', 'dead-letter ids (from dlq list)')
      .option('--all', 'every dead letter')
      .option('--yes', 'really delete'),
  );
  purge.action(
    action(async (ids: string[], flags: DlqFlags) => {
      await withQueue(flags, async (q) => {
        const letters = await select(q, ids, flags.all);
        if (!flags.yes) {
          throw new ConfigError(`refusing to delete ${letters.length} dead letter(s) without --yes`);
        }
        await q.removeDeadLetters(letters.map((d) => d.deadId));
        print(flags, { purged: letters.map((d) => d.deadId) }, `purged ${letters.length} dead letter(s)\n`);
      });
    }),
  );
  return cmd.addCommand(list).addCommand(show).addCommand(replay).addCommand(purge);
}
