/**
 * Child processes of a run: `auditline worker` / `auditline serve` from dist/ (what users
 * run), and the benchmark's own load generators (bench/children/*.ts, bundled to plain
 * JavaScript with esbuild for the run, talking over IPC). Every child is registered with
 * the run's {@link Cleanup}.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { cp, mkdir, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { Cleanup } from './cleanup.js';
import type { ChildReply, ChildRequest } from './protocol.js';
import { peakRssMiB } from './system.js';

export const REPO_ROOT = resolve(import.meta.dirname, '..');
const START_TIMEOUT_MS = 30_000;
const OUTPUT_KEPT = 16_384;
/** Tells load-generator children which build to load (see children/library.ts). */
export const BUILD_ENV = 'BENCH_BUILD_DIR';

/** The build every process of this run executes: `<root>/dist`, `<root>/package.json`. */
let buildRoot = REPO_ROOT;
/** The load generators bundled for this run (`<root>/bench-children/<name>.mjs`), if any. */
let childrenDir: string | null = null;

/** The load generators in bench/children/. */
const CHILDREN = ['producer', 'http-load', 'embedded'] as const;

/** The CLI of the build in use. */
export function cliPath(): string {
  return resolve(buildRoot, 'dist/cli/main.js');
}

/** The build's `dist/` directory. */
export function distDir(): string {
  return resolve(buildRoot, 'dist');
}

export function assertBuilt(): void {
  const cli = resolve(REPO_ROOT, 'dist/cli/main.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build" first (npm run bench does)`);
}

/**
 * Copies dist/ (and package.json, which marks it ESM and names the version) to a private
 * temporary directory, links the checkout's node_modules beside it, and runs everything
 * from there. A shared checkout's dist/ is rebuilt by anyone running `npm test`; without
 * the copy, a worker started in minute 5 could run other code than one started in minute 1.
 */
export async function snapshotBuild(cleanup: Cleanup, runId: string): Promise<string> {
  assertBuilt();
  const root = cleanup.dir(resolve(tmpdir(), `auditline-bench-${runId}-build`), 'run');
  await mkdir(root, { recursive: true });
  await symlink(resolve(REPO_ROOT, 'node_modules'), resolve(root, 'node_modules'), 'dir');
  await cp(resolve(REPO_ROOT, 'dist'), resolve(root, 'dist'), { recursive: true });
  await cp(resolve(REPO_ROOT, 'package.json'), resolve(root, 'package.json'));
  // The load generators stand for applications, which run compiled JavaScript: under tsx
  // (a loader thread, source-map hooks) a producer alone at 5,000 events/s used ~20 % more
  // CPU than the same code bundled (2.06 vs 1.69 s of CPU in 10 s; its log() p99 in the
  // seed scenario was within run-to-run noise either way). npm packages stay external and
  // resolve through the node_modules link above.
  const outdir = resolve(root, 'bench-children');
  await build({
    entryPoints: CHILDREN.map((name) => resolve(REPO_ROOT, 'bench/children', `${name}.ts`)),
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
  buildRoot = root;
  childrenDir = outdir;
  return root;
}

/** Back to the checkout's own dist/ (after a run). */
export function resetBuild(): void {
  buildRoot = REPO_ROOT;
  childrenDir = null;
}

/** A running `auditline` command. */
export interface CliProcess {
  child: ChildProcess;
  /** The last lines it printed (for error messages). */
  output(): string;
  peakRssMiB(): number | null;
  /** SIGTERM (graceful: workers commit what they hold), SIGKILL after a grace period. */
  stop(): Promise<void>;
}

/**
 * Starts `node dist/cli/main.js <args>` and resolves once its output matches `ready`.
 * `cpuProfileDir` runs it under `--cpu-prof` (the profile is written when it exits).
 */
export async function startCli(
  cleanup: Cleanup,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  cpuProfileDir?: string,
): Promise<CliProcess & { match: RegExpExecArray }> {
  assertBuilt();
  const nodeArgs: string[] = [];
  if (cpuProfileDir) {
    mkdirSync(cpuProfileDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`);
  }
  const child = cleanup.child(
    spawn(process.execPath, [...nodeArgs, cliPath(), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-OUTPUT_KEPT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const match = await new Promise<RegExpExecArray>((res, rej) => {
    const timer = setTimeout(() => {
      rej(new Error(`auditline ${args[0]} did not start within ${START_TIMEOUT_MS} ms:\n${out}`));
    }, START_TIMEOUT_MS);
    const check = () => {
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        child.off('exit', onExit);
        res(m);
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      rej(new Error(`auditline ${args[0]} exited with ${code} before it was ready:\n${out}`));
    };
    child.stdout?.on('data', check);
    child.once('exit', onExit);
  });
  return {
    child,
    match,
    output: () => out,
    peakRssMiB: () => peakRssMiB(child.pid),
    stop: () => Cleanup.stop(child),
  };
}

/** A load-generator child speaking the bench/protocol.ts messages. */
export interface BenchChild {
  child: ChildProcess;
  send(msg: ChildRequest): void;
  /** Resolves with the next reply of the given type (rejects if the child exits first). */
  next<T extends ChildReply['type']>(type: T, timeoutMs?: number): Promise<Extract<ChildReply, { type: T }>>;
  output(): string;
}

/**
 * Forks load generator `bench/children/<name>.ts` with an IPC channel: the run's bundle of it
 * (see {@link snapshotBuild}), or the source under tsx outside a run. Under `--cpu-prof`
 * when given a directory.
 */
export function forkChild(
  cleanup: Cleanup,
  name: (typeof CHILDREN)[number],
  cpuProfileDir?: string,
): BenchChild {
  const execArgv = childrenDir ? [] : ['--import', 'tsx'];
  if (cpuProfileDir) {
    mkdirSync(cpuProfileDir, { recursive: true });
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`);
  }
  const child = cleanup.child(
    fork(
      childrenDir ? resolve(childrenDir, `${name}.mjs`) : resolve(REPO_ROOT, 'bench/children', `${name}.ts`),
      [],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, [BUILD_ENV]: buildRoot },
        execArgv,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      },
    ),
  );
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-OUTPUT_KEPT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const queue: ChildReply[] = [];
  const waiters: ((m: ChildReply) => boolean)[] = [];
  child.on('message', (m: ChildReply) => {
    const i = waiters.findIndex((w) => w(m));
    if (i >= 0) waiters.splice(i, 1);
    else queue.push(m);
  });
  return {
    child,
    output: () => out,
    send(msg) {
      // A child that has exited cannot be told anything; next() reports why it exited.
      if (child.connected) child.send(msg);
    },
    next(type, timeoutMs = 600_000) {
      return new Promise((res, rej) => {
        const queued = queue.findIndex((m) => m.type === type || m.type === 'error');
        const deliver = (m: ChildReply) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          if (m.type === 'error') rej(new Error(`bench child ${name} failed: ${m.message}\n${out}`));
          else res(m as never);
        };
        const onExit = (code: number | null) => {
          clearTimeout(timer);
          rej(new Error(`bench child ${name} exited with ${code}:\n${out}`));
        };
        const timer = setTimeout(
          () => rej(new Error(`bench child ${name}: no "${type}" within ${timeoutMs} ms`)),
          timeoutMs,
        );
        if (queued >= 0) {
          deliver(queue.splice(queued, 1)[0]!);
          return;
        }
        child.once('exit', onExit);
        waiters.push((m) => {
          if (m.type !== type && m.type !== 'error') return false;
          deliver(m);
          return true;
        });
      });
    },
  };
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}
