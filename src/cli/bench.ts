/**
 * `auditline bench`: runs the benchmark in `bench/` (the same as `npm run bench`). The
 * benchmark is TypeScript run with tsx and ships with the repository, not with the package,
 * so this command works from a source checkout and says so elsewhere.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { action } from './options.js';

/** Builds the `bench` command. */
export function benchCommand(): Command {
  const cmd = new Command('bench')
    .summary('measure throughput and latency against the local Redis and PostgreSQL')
    .description(
      'Runs bench/run.ts: the raw COPY ceiling, end to end (library → Redis → workers → ' +
        "PostgreSQL), a worker-side drain, the seed plan's 10,000 events/s scenario, HTTP ingest, " +
        'embedded mode and memory. Results go to bench/results/. Needs a source checkout with dev ' +
        'dependencies installed (npm ci). Every option is passed through to the benchmark.',
    )
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .helpOption(false)
    .argument('[options...]', 'benchmark options (see below)');
  cmd.addHelpText(
    'after',
    `
Benchmark options:
  --duration <s>      seconds of each sustained phase (default 30)
  --only <parts>      comma-separated subset of: limit, e2e, drain, seed, http, embedded
  --workers <n>       worker processes in the end-to-end and drain parts (default 2)
  --scale <s>         full (default) or tiny
  --runs <n>          repeat the whole run n times and report medians (default 1)
  --out <dir>         results directory (default bench/results); --no-write writes nothing
  --profile           CPU-profile workers and producers and print their hottest functions

Examples:
  $ auditline bench
  $ auditline bench --only e2e,seed --duration 20 --runs 3`,
  );
  return cmd.action(
    action(async (args: string[]) => {
      if (args.includes('--help') || args.includes('-h')) {
        cmd.outputHelp();
        return;
      }
      const root = fileURLToPath(new URL('../../', import.meta.url));
      const script = `${root}bench/run.ts`;
      let tsx: string | null = null;
      try {
        tsx = createRequire(`${root}package.json`).resolve('tsx');
      } catch {
        tsx = null;
      }
      if (!existsSync(script) || tsx === null) {
        throw new Error(
          'auditline bench runs from a source checkout of auditline with its dev dependencies ' +
            '(git clone …; npm ci; npm run build; npx auditline bench)',
        );
      }
      const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
        cwd: root,
        stdio: 'inherit',
      });
      const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
      if (code !== 0) process.exitCode = code;
    }),
  );
}
