/**
 * `auditline journal status | replay`: the disk spill journals under `AUDITLINE_JOURNAL_DIR`
 * (one `slot-<n>` directory per producer process that ever spilled).
 *
 * `status` only reads files, so it is safe next to live producers and works in both modes.
 * `replay` moves what dead processes left into the Redis stream, with the same `Replayer`
 * the producer runs, so order, acknowledgement and checkpointing are the producer's own.
 */
import { Command } from 'commander';
import { type AuditlineConfig, type ConfigOverrides, loadConfig } from '../config.js';
import { AuditError, ErrorCodes } from '../core/errors.js';
import {
  type CorruptionReport,
  inspectJournal,
  type JournalInspection,
  listJournalSlots,
} from '../journal/index.js';
import { createQueue } from '../queue/index.js';
import { openJournalSlot, Replayer } from '../spill.js';
import {
  action,
  addConnectionOptions,
  type ConnectionFlags,
  connectionOverrides,
  intArg,
} from './options.js';

interface JournalFlags extends ConnectionFlags {
  journalDir?: string;
  json?: boolean;
  timeoutMs?: number;
}

/** Outcome of replaying one slot. */
export interface SlotReplay {
  dir: string;
  /** `replayed`: emptied; `partial`: the queue stayed full or failed; `skipped`: a live process holds it. */
  result: 'replayed' | 'partial' | 'skipped';
  moved: number;
  left: number;
  corrupt: CorruptionReport[];
  error?: string;
}

function overrides(flags: JournalFlags): ConfigOverrides {
  return {
    ...connectionOverrides(flags),
    ...(flags.journalDir !== undefined ? { journalDir: flags.journalDir } : {}),
  };
}

function holderText(i: JournalInspection): string {
  const h = i.holder;
  if (!h) return 'free';
  if (h.live === true) return `held by live pid ${h.pid}`;
  if (h.live === null) return `held by pid ${h.pid} on ${h.hostname} (another host: not checked)`;
  return `stale lock (pid ${h.pid ?? '?'} gone)`;
}

/** One human-readable block per slot. */
export function renderStatus(root: string, slots: JournalInspection[]): string {
  if (slots.length === 0) return `no journal slots under ${root}\n`;
  const lines = [`journal root ${root}`];
  for (const s of slots) {
    lines.push(
      `${s.dir}`,
      `  ${holderText(s)}; ${s.segments} segment(s), ${s.bytes} bytes, ${s.pendingRecords} pending record(s)` +
        `, oldest ${s.oldestRecordAt?.toISOString() ?? '-'}`,
      ...s.corrupt.map(
        (c) => `  corrupt: ${c.reason}, ${c.skippedBytes} byte(s) skipped at ${c.file}:${c.offset}`,
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Replays every slot under the journal root that no live process holds. */
export async function replaySlots(
  config: Readonly<AuditlineConfig>,
  timeoutMs: number,
): Promise<SlotReplay[]> {
  const queue = createQueue(config);
  const out: SlotReplay[] = [];
  try {
    try {
      await queue.init();
    } catch (err) {
      if (config.mode === 'embedded' && err instanceof AuditError && err.code === ErrorCodes.JOURNAL_LOCKED) {
        throw new AuditError(
          ErrorCodes.JOURNAL_LOCKED,
          `embedded mode: the queue under ${config.dataDir}/queue is open in another process ` +
            '(`auditline serve`?), which replays the journal slot it took when it started; run replay once it has stopped',
          { cause: err },
        );
      }
      throw err;
    }
    for (const dir of await listJournalSlots(config.journalDir)) {
      const corrupt: CorruptionReport[] = [];
      let journal: Awaited<ReturnType<typeof openJournalSlot>>;
      try {
        journal = await openJournalSlot(config, dir, (r) => corrupt.push(r));
      } catch (err) {
        if (!(err instanceof AuditError && err.code === ErrorCodes.JOURNAL_LOCKED)) throw err;
        out.push({ dir, result: 'skipped', moved: 0, left: -1, corrupt, error: err.message });
        continue;
      }
      const errors: string[] = [];
      const replayer = new Replayer({ journal, queue, queueMaxLength: config.queueMaxLength });
      let moved = 0;
      let done = false;
      const deadline = Date.now() + timeoutMs;
      try {
        for (;;) {
          try {
            const pass = await replayer.drainOnce();
            moved += pass.moved;
            done = pass.done;
          } catch (err) {
            errors.push(err instanceof Error ? err.message : String(err));
          }
          // A pass ends early when the queue is at its cap: wait for workers to make room.
          if (done || Date.now() >= deadline) break;
          await sleep(250);
        }
        const left = (await journal.status()).pendingRecords;
        out.push({
          dir,
          result: done && left === 0 ? 'replayed' : 'partial',
          moved,
          left,
          corrupt,
          ...(errors.length > 0 ? { error: errors[errors.length - 1] } : {}),
        });
      } finally {
        await journal.close();
      }
    }
  } finally {
    await queue.close();
  }
  return out;
}

/** Builds the `journal` command with its `status` and `replay` subcommands. */
export function journalCommand(): Command {
  const cmd = new Command('journal')
    .summary('inspect and replay the disk spill journals')
    .description(
      'Producers spill events to a local disk journal when Redis is unreachable, slow, or the ' +
        'queue is at its cap, and replay them in order once it accepts them. Each process uses ' +
        'its own slot-<n> directory under AUDITLINE_JOURNAL_DIR (default <data dir>/journal); a ' +
        'restarted process takes the lowest free slot and replays it. Slots left by processes ' +
        'that are not restarted wait for `auditline journal replay`.',
    );
  const common = (c: Command) =>
    addConnectionOptions(
      c
        .option('--journal-dir <dir>', 'journal root (env AUDITLINE_JOURNAL_DIR, default <data dir>/journal)')
        .option('--json', 'print JSON instead of text'),
    );

  const status = common(
    new Command('status')
      .summary('show every journal slot: segments, bytes, pending records, oldest record, holder')
      .description(
        'Read-only: takes no lock and changes nothing, so it is safe next to live producers. ' +
          'Corrupt regions (torn tails after a crash, checksum mismatches) are listed; replay skips ' +
          'them. A live process may be writing the last record of its active segment, which then ' +
          'looks like a torn tail; only slots no live process holds give an exact picture.',
      ),
  );
  status.action(
    action(async (flags: JournalFlags) => {
      const config = loadConfig(overrides(flags));
      const slots = await Promise.all((await listJournalSlots(config.journalDir)).map(inspectJournal));
      process.stdout.write(
        flags.json
          ? `${JSON.stringify({ root: config.journalDir, slots }, null, 2)}\n`
          : renderStatus(config.journalDir, slots),
      );
    }),
  );

  const replay = common(
    new Command('replay')
      .summary('replay slots no live process holds into the queue')
      .description(
        'Opens each slot that no live process holds (taking its lock, so a producer starting ' +
          'meanwhile takes another slot) and moves its records into the queue, oldest first, only ' +
          'into the room below the queue cap. Records are acknowledged in the journal after the ' +
          'queue accepted them; a crash in between replays them again, which the store absorbs ' +
          '(one row per event id). Exits 1 if anything is left.\n\n' +
          'Distributed mode: into the Redis stream, while producers and workers run. Embedded ' +
          'mode: into the queue under <data dir>/queue, which needs the data directory to ' +
          'itself (stop `auditline serve` first; it stores them when it next starts).',
      )
      .option(
        '--timeout-ms <n>',
        'how long to wait for room while the queue is full (default 60000)',
        intArg,
      ),
  );
  replay.action(
    action(async (flags: JournalFlags) => {
      const config = loadConfig(overrides(flags));
      const results = await replaySlots(config, flags.timeoutMs ?? 60_000);
      if (flags.json)
        process.stdout.write(`${JSON.stringify({ root: config.journalDir, results }, null, 2)}\n`);
      else {
        if (results.length === 0) process.stdout.write(`no journal slots under ${config.journalDir}\n`);
        for (const r of results) {
          const left = r.left >= 0 ? `, ${r.left} left` : '';
          process.stdout.write(`${r.dir}: ${r.result}, ${r.moved} record(s) moved${left}\n`);
          for (const c of r.corrupt) {
            process.stdout.write(
              `  corrupt: ${c.reason}, ${c.skippedBytes} byte(s) skipped at ${c.file}:${c.offset}\n`,
            );
          }
          if (r.error) process.stdout.write(`  ${r.error}\n`);
        }
      }
      if (results.some((r) => r.result === 'partial')) process.exitCode = 1;
    }),
  );
  return cmd.addCommand(status).addCommand(replay);
}
