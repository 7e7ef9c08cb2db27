/**
 * `npm run bench [-- options]`: runs the benchmark, prints the Markdown table, writes
 * bench/results/<date>-<host>.json and bench/results/latest.md. See bench/options.ts.
 */
import { runBench } from './bench.js';
import { BENCH_USAGE, parseBenchArgs } from './options.js';

let args: ReturnType<typeof parseBenchArgs>;
try {
  args = parseBenchArgs(process.argv.slice(2));
} catch (err) {
  console.error(`${err instanceof Error ? err.message : String(err)}\n\n${BENCH_USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(BENCH_USAGE);
  process.exit(0);
}
const { help: _help, ...options } = args;
const report = await runBench(options, `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim());
process.stdout.write(`\n${report.markdown}`);
if (report.files.json) process.stdout.write(`\nwritten: ${report.files.json}, ${report.files.markdown}\n`);
process.exit(Object.keys(report.errors).length > 0 ? 1 : 0);
