/**
 * Runs the example app: `PORT` (default 3000) on 127.0.0.1, auditline configured from the
 * environment (embedded with PGlite under ./auditline-data unless REDIS_URL and
 * DATABASE_URL are set). SIGTERM/SIGINT stop accepting, finish open requests, then flush
 * the logger, so no audit record accepted before the signal is lost.
 */
import { createAuditLogger } from '../../src/index.js';
import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
// e.g. TRUST_PROXY=loopback behind a local nginx; unset means clients connect directly.
const trustProxy = process.env.TRUST_PROXY || false;

const audit = createAuditLogger();
const app = createApp(audit, { trustProxy });
const server = app.listen(port, '127.0.0.1', (err?: Error) => {
  if (err) throw err;
  process.stdout.write(`example: listening on http://127.0.0.1:${port}\n`);
});

let stopping = false;
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`example: ${signal} received, shutting down\n`);
  // Requests in flight may still call req.audit(): close the logger only after them.
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await audit.close();
  process.stdout.write('example: stopped\n');
}
process.once('SIGTERM', (s) => void stop(s));
process.once('SIGINT', (s) => void stop(s));
