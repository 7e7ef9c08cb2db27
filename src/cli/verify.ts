/**
 * `auditline verify` (the whole log, from the database) and `auditline verify-proof` (one
 * proof document, offline). Exit code 0 only when everything checked verifies.
 */
import { readFile } from 'node:fs/promises';
import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { loadConfig } from '../config.js';
import { ConfigError } from '../core/errors.js';
import { createKeyRing, verifyProofDocument } from '../core/signing.js';
import { normalizeTimestamp } from '../core/validate.js';
import { type CompletenessReport, checkCompleteness } from '../integrity/completeness.js';
import { type VerifyReport, verifyIntegrity } from '../integrity/verify.js';
import { createStore } from '../store/index.js';
import {
  action,
  addConnectionOptions,
  type ConnectionFlags,
  connectionOverrides,
  EXIT_FAILURE,
} from './options.js';

interface VerifyFlags extends ConnectionFlags {
  from?: string;
  to?: string;
  publicKey?: string[];
  allowUnsigned?: boolean;
  json?: boolean;
  completeness?: boolean;
  checkpoint?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function timeFlag(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const t = normalizeTimestamp(/^\d+$/.test(raw) ? Number(raw) : raw);
  if (t === null)
    throw new ConfigError(`--${name} must be an ISO-8601 timestamp with a time zone, got "${raw}"`);
  return t;
}

async function readKeys(files: string[] | undefined) {
  if (!files || files.length === 0) return undefined;
  return createKeyRing(await Promise.all(files.map((f) => readFile(f, 'utf8'))));
}

/** The human-readable report. */
export function renderReport(r: VerifyReport, c: CompletenessReport | null): string {
  const lines = [
    `blocks   ${r.blocks.checked} checked${r.blocks.purged ? `, ${r.blocks.purged} purged by retention` : ''}` +
      `${r.blocks.head ? `, head seq ${r.blocks.head.seq}` : ''}`,
    `events   ${r.events.checked} hashes recomputed`,
    `signatures ${r.signaturesChecked ? 'checked' : 'not checked (no --public-key)'}`,
  ];
  for (const p of r.purged) {
    lines.push(
      `purged   ${p.range_start} .. ${p.range_end} (${p.partition}, ${p.row_count} events, ${p.purged_at})`,
    );
  }
  if (r.checkpoint)
    lines.push(`checkpoint seq ${r.checkpoint.seq}: ${r.checkpoint.ok ? 'extended' : 'BROKEN'}`);
  if (c) {
    for (const p of c.producers) {
      const gaps = p.unexplained.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ');
      lines.push(
        `producer ${p.producer_id}: seq ${p.min_seq}..${p.max_seq}, ${p.stored} stored` +
          (gaps ? `, UNEXPLAINED GAPS ${gaps}` : ', complete') +
          (p.explained.length ? ` (${p.explained.length} range(s) explained by gap records)` : ''),
      );
    }
  }
  if (r.firstBreak) {
    lines.push('', `FIRST BREAK: ${r.firstBreak.message}`);
    for (const b of r.breaks.slice(1)) lines.push(`  also: ${b.message}`);
  }
  const ok = r.ok && (c?.ok ?? true);
  lines.push('', ok ? 'OK: everything verifies' : 'FAILED');
  return `${lines.join('\n')}\n`;
}

/** Builds the `verify` command. */
export function verifyCommand(): Command {
  const cmd = new Command('verify')
    .summary('recompute every hash, Merkle root and the chain; report the first break')
    .description(
      'Check the whole audit log: every event hash from its fields, every block Merkle root ' +
        'from its rows in leaf order, the hash chain, and with --public-key every signature. ' +
        'Reports the first break (altered event, missing leaf, altered or removed block, ' +
        'fork) and the others found. Ranges dropped by `auditline retention` are reported, ' +
        'not treated as breaks. Reads in chunks; a progress bar is drawn on a terminal.\n\n' +
        '--completeness also reports per producer the sequence gaps no audit.gap record ' +
        'explains. Events still in the queue or journal look like a gap until stored.\n\n' +
        'Exit code 0 only when everything verifies, 1 otherwise.',
    )
    .option('--from <time>', 'check events and blocks from this time (ISO-8601)')
    .option('--to <time>', 'up to this time, exclusive (ISO-8601)')
    .option('--public-key <file>', 'public key PEM to check signatures (repeat for rotated keys)', collect)
    .option('--allow-unsigned', 'with --public-key: accept blocks written before signing was turned on')
    .option('--checkpoint <file>', 'a saved `auditline checkpoint` the log must still extend')
    .option('--completeness', 'report producer sequence gaps not explained by gap records')
    .option('--json', 'print the report as JSON');
  addConnectionOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ auditline verify --public-key auditline-public-key.pem
  $ auditline verify --from 2026-11-01T00:00:00Z --to 2026-12-01T00:00:00Z --json
  $ auditline verify --checkpoint checkpoint.json --completeness`,
  );
  return cmd.action(
    action(async (flags: VerifyFlags) => {
      const config = loadConfig(connectionOverrides(flags));
      const from = timeFlag('from', flags.from);
      const to = timeFlag('to', flags.to);
      const keys = await readKeys(flags.publicKey);
      const checkpoint = flags.checkpoint
        ? (JSON.parse(await readFile(flags.checkpoint, 'utf8')) as unknown)
        : undefined;
      const store = createStore(config);
      const bar =
        process.stdout.isTTY && !flags.json
          ? new SingleBar({ format: '{phase} [{bar}] {value}/{total}', hideCursor: true })
          : null;
      let phase = '';
      try {
        const report = await verifyIntegrity(store, {
          ...(from ? { from } : {}),
          ...(to ? { to } : {}),
          ...(keys ? { keys } : {}),
          ...(flags.allowUnsigned ? { allowUnsigned: true } : {}),
          ...(checkpoint !== undefined ? { checkpoint } : {}),
          ...(bar
            ? {
                onProgress: (p, done, total) => {
                  if (p !== phase) {
                    if (phase) bar.stop();
                    phase = p;
                    bar.start(Math.max(total, done), done, { phase: p.padEnd(6) });
                  } else {
                    bar.setTotal(Math.max(total, done));
                    bar.update(done);
                  }
                },
              }
            : {}),
        });
        bar?.stop();
        const completeness = flags.completeness ? await checkCompleteness(store) : null;
        const ok = report.ok && (completeness?.ok ?? true);
        process.stdout.write(
          flags.json
            ? `${JSON.stringify({ ...report, ok, completeness }, null, 2)}\n`
            : renderReport(report, completeness),
        );
        if (!ok) process.exitCode = EXIT_FAILURE;
      } finally {
        bar?.stop();
        await store.close();
      }
    }),
  );
}

/** Builds the `verify-proof` command. */
export function verifyProofCommand(): Command {
  return new Command('verify-proof')
    .summary('check an event inclusion proof offline (no database)')
    .description(
      'Check a proof document from GET /v1/events/:id/proof: the event hash from its fields, ' +
        "the RFC 6962 audit path to the block's Merkle root, the block hash, and the block " +
        'signature under the given public key(s). Exit code 0 only when it verifies.',
    )
    .argument('<proof>', 'the proof JSON file')
    .requiredOption('--public-key <file>', 'public key PEM (repeat for rotated keys)', collect)
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ curl -s "localhost:3000/v1/events/$ID/proof?tenant_id=acme" > proof.json
  $ auditline verify-proof proof.json --public-key auditline-public-key.pem`,
    )
    .action(
      action(async (file: string, flags: { publicKey: string[]; json?: boolean }) => {
        const keys = await readKeys(flags.publicKey);
        let doc: unknown;
        try {
          doc = JSON.parse(await readFile(file, 'utf8'));
        } catch {
          doc = null; // reported as malformed by the verifier
        }
        const res = verifyProofDocument(doc, keys);
        if (flags.json) process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
        else if (res.ok) {
          process.stdout.write(
            `OK: the event is leaf ${res.leafIndex} of block ${res.seq}, signature verified\n`,
          );
        } else process.stdout.write(`FAILED (${res.reason}): ${res.message}\n`);
        if (!res.ok) process.exitCode = EXIT_FAILURE;
      }),
    );
}
