/** `auditline checkpoint`: prints the signed head of the chain as JSON, to store elsewhere. */
import { Command } from 'commander';
import { loadConfig } from '../config.js';
import { AuditError, ErrorCodes } from '../core/errors.js';
import { takeCheckpoint } from '../integrity/checkpoint.js';
import { createStore } from '../store/index.js';
import { action, addConnectionOptions, type ConnectionFlags, connectionOverrides } from './options.js';

/** Builds the `checkpoint` command. */
export function checkpointCommand(): Command {
  const cmd = new Command('checkpoint')
    .summary('print the signed head of the chain as JSON')
    .description(
      'Print the latest block (seq, hash, merkle_root, signature, ...) as an ' +
        'auditline.checkpoint.v1 JSON document. Store it OUTSIDE the database (object lock, ' +
        "a SIEM, a customer's copy): `auditline verify --checkpoint file` then proves the log " +
        'still extends it, which catches a tail rewritten consistently by someone with ' +
        'database access (and, without signatures, by anyone).',
    );
  addConnectionOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ auditline checkpoint > checkpoint-$(date +%F).json
  $ auditline verify --checkpoint checkpoint-2026-11-26.json`,
  );
  return cmd.action(
    action(async (flags: ConnectionFlags) => {
      const config = loadConfig(connectionOverrides(flags));
      const store = createStore(config);
      try {
        const cp = await takeCheckpoint(store);
        if (!cp) throw new AuditError(ErrorCodes.NOT_FOUND, 'no blocks yet: nothing to checkpoint');
        process.stdout.write(`${JSON.stringify(cp, null, 2)}\n`);
      } finally {
        await store.close();
      }
    }),
  );
}
