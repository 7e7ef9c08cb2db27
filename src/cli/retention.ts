/** `auditline retention`: drops whole monthly partitions older than a cutoff. */
import { Command } from 'commander';
import { loadConfig } from '../config.js';
import { applyRetention, parseDuration, planRetention } from '../integrity/retention.js';
import { createStore } from '../store/index.js';
import { action, addConnectionOptions, type ConnectionFlags, connectionOverrides } from './options.js';

interface RetentionFlags extends ConnectionFlags {
  olderThan: string;
  exportDir?: string;
  yes?: boolean;
}

/** Builds the `retention` command. */
export function retentionCommand(): Command {
  const cmd = new Command('retention')
    .summary('drop monthly partitions older than a cutoff (the only way data leaves)')
    .description(
      'Drop every monthly partition of audit_logs that ends before now minus --older-than, ' +
        'optionally exporting each to <export-dir>/<partition>.ndjson.gz first. Block rows are ' +
        'kept, so the chain still verifies, and each purge is recorded in audit_retention: ' +
        '`auditline verify` reports the purged range instead of a break. Without --yes it only ' +
        'lists what would be dropped.',
    )
    .requiredOption('--older-than <duration>', 'age cutoff, e.g. 90d, 12h, 8w')
    .option('--export-dir <dir>', 'export each partition to gzip NDJSON before dropping it')
    .option('--yes', 'really drop (otherwise a dry run)');
  addConnectionOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ auditline retention --older-than 400d                  # dry run
  $ auditline retention --older-than 400d --export-dir /archive/audit --yes`,
  );
  return cmd.action(
    action(async (flags: RetentionFlags) => {
      const olderThanMs = parseDuration(flags.olderThan);
      const config = loadConfig(connectionOverrides(flags));
      const store = createStore(config);
      try {
        const plan = await planRetention(store, olderThanMs);
        if (plan.partitions.length === 0) {
          process.stdout.write(`nothing to drop: no partition ends before ${plan.cutoff}\n`);
          return;
        }
        if (!flags.yes) {
          for (const p of plan.partitions) {
            process.stdout.write(`would drop ${p.name} (${p.range_start} .. ${p.range_end})\n`);
          }
          process.stdout.write('dry run: add --yes to drop\n');
          return;
        }
        for (const r of await applyRetention(store, plan, flags.exportDir ?? null)) {
          process.stdout.write(
            `dropped ${r.partition}: ${r.rows} events${r.exportFile ? `, exported to ${r.exportFile}` : ''}\n`,
          );
        }
      } finally {
        await store.close();
      }
    }),
  );
}
