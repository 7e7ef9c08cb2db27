/** `auditline keys generate`: a new Ed25519 key pair for signing blocks. */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { generateKeyPair } from '../core/signing.js';
import { action } from './options.js';

/** File names written by `keys generate`. */
export const PRIVATE_KEY_FILE = 'auditline-signing-key.pem';
export const PUBLIC_KEY_FILE = 'auditline-public-key.pem';

/** Builds the `keys` command group. */
export function keysCommand(): Command {
  const keys = new Command('keys').summary('manage block signing keys');
  const generate = new Command('generate')
    .summary('generate an Ed25519 key pair and print its key id')
    .description(
      `Write a new Ed25519 key pair: ${PRIVATE_KEY_FILE} (PKCS#8, mode 0600: keep it secret, ` +
        'whoever holds it can re-sign a rewritten chain) and ' +
        `${PUBLIC_KEY_FILE} (SPKI: publish it). ` +
        'Never overwrites an existing file. Needs no database.\n\n' +
        'Point AUDITLINE_SIGNING_KEY_FILE at the private key in serve and worker to sign every ' +
        'block; keep old public keys to verify blocks signed before a rotation.',
    )
    .option('--out <dir>', 'directory to write the two files to', '.')
    .addHelpText(
      'after',
      `
Examples:
  $ auditline keys generate --out /etc/auditline
  $ AUDITLINE_SIGNING_KEY_FILE=/etc/auditline/${PRIVATE_KEY_FILE} auditline worker`,
    )
    .action(
      action(async (flags: { out: string }) => {
        const pair = generateKeyPair();
        const dir = resolve(flags.out);
        const priv = join(dir, PRIVATE_KEY_FILE);
        const pub = join(dir, PUBLIC_KEY_FILE);
        // 'wx': fail rather than overwrite a key that may still sign (or verify) blocks.
        await writeFile(priv, pair.privateKeyPem, { flag: 'wx', mode: 0o600 });
        await writeFile(pub, pair.publicKeyPem, { flag: 'wx', mode: 0o644 });
        process.stdout.write(`key_id ${pair.keyId}\nprivate key: ${priv}\npublic key:  ${pub}\n`);
      }),
    );
  keys.addCommand(generate);
  return keys;
}
