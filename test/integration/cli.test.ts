/**
 * The built `auditline` command, spawned as users run it: help texts, migrate, exit codes
 * of configuration errors, the safe-bind refusal, and graceful stops on SIGTERM.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DATABASE_URL,
  dropPrefix,
  dropSchema,
  REDIS_URL,
  sql,
  uniquePrefix,
  uniqueSchema,
} from '../helpers/env.js';

const CLI = 'dist/cli/main.js';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(p) : st.mtimeMs);
  }
  return newest;
}

/**
 * `npm test` builds first; when this file runs alone, build if dist is missing or stale.
 * Type errors elsewhere do not stop tsc from emitting, and `npm run build` (the gate for
 * those) already fails on them; so emit, copy the assets, and let the tests judge the result.
 */
function ensureBuilt(): void {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestMtime('src')) return;
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    encoding: 'utf8',
  });
  if (tsc.status !== 0) console.error(`tsc reported errors (emitted anyway):\n${tsc.stdout}`);
  const assets = spawnSync(process.execPath, ['scripts/copy-assets.mjs'], { encoding: 'utf8' });
  assert.equal(assets.status, 0, assets.stderr);
  assert.ok(existsSync(CLI), `${CLI} was not built`);
}

/** Only what each test sets: the parent's REDIS_URL/DATABASE_URL must not leak in. */
function env(vars: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...vars };
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], vars: Record<string, string> = {}): Run {
  const res = spawnSync(process.execPath, [CLI, ...args], {
    env: env(vars),
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** Starts a long-running command and resolves once its stdout matches `ready`. */
function start(
  args: string[],
  vars: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: env(vars) });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`not ready within 60 s:\n${out}\n${err}`));
    }, 60_000);
    child.stderr?.on('data', (d) => {
      err += d;
    });
    child.stdout?.on('data', (d) => {
      out += d;
      const match = out.match(ready);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match, output: () => out + err });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready:\n${out}\n${err}`));
    });
  });
}

function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('auditline CLI', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'auditline-cli-'));
  before(() => ensureBuilt());
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('prints help for the root and for every command', () => {
    const root = run(['--help']);
    assert.equal(root.status, 0);
    for (const text of ['Usage: auditline', 'serve', 'worker', 'migrate', 'REDIS_URL', 'Examples:']) {
      assert.ok(root.stdout.includes(text), `root help mentions ${text}`);
    }
    const expected: Record<string, string[]> = {
      serve: ['--host', '--port', '--no-migrate', '--data-dir', 'AUDITLINE_API_KEYS'],
      worker: ['--redis-url', '--database-url', '--consumer', 'SIGTERM'],
      migrate: ['--database-url', '--schema'],
    };
    for (const [cmd, texts] of Object.entries(expected)) {
      const res = run([cmd, '--help']);
      assert.equal(res.status, 0, cmd);
      assert.ok(res.stdout.startsWith(`Usage: auditline ${cmd}`), res.stdout);
      for (const text of [...texts, 'Examples:'])
        assert.ok(res.stdout.includes(text), `${cmd} --help mentions ${text}`);
    }
  });

  it('migrate creates the tables in the given schema, and is idempotent', async () => {
    const schema = uniqueSchema('cli');
    try {
      for (let i = 0; i < 2; i++) {
        const res = run(['migrate', '--schema', schema], { REDIS_URL, DATABASE_URL });
        assert.equal(res.status, 0, res.stderr);
        assert.match(res.stdout, new RegExp(`migrations applied \\(schema ${schema}`));
      }
      const rows = await sql<{ logs: string | null }>('SELECT to_regclass($1)::text AS logs', [
        `${schema}.audit_logs`,
      ]);
      assert.deepEqual(rows, [{ logs: `${schema}.audit_logs` }]);
    } finally {
      await dropSchema(schema);
    }
  });

  it('exits 2 with "error: AUDIT_ERR_CONFIG: …" when only REDIS_URL is set', () => {
    for (const cmd of ['migrate', 'worker', 'serve']) {
      const res = run([cmd], { REDIS_URL });
      assert.equal(res.status, 2, `${cmd}: ${res.stderr}`);
      assert.match(res.stderr, /^error: AUDIT_ERR_CONFIG: REDIS_URL is set but DATABASE_URL is not/);
    }
  });

  it('exits 2 for malformed flags and environment', () => {
    const badSchema = run(['migrate', '--schema', 'Bad-Name'], { AUDITLINE_DATA_DIR: join(tmp, 'x') });
    assert.equal(badSchema.status, 2);
    assert.match(badSchema.stderr, /^error: AUDIT_ERR_CONFIG: AUDITLINE_SCHEMA/);
    const badPort = run(['serve'], { PORT: 'eighty' });
    assert.equal(badPort.status, 2);
    assert.match(badPort.stderr, /^error: AUDIT_ERR_CONFIG: PORT/);
    const badFlag = run(['serve', '--port', 'eighty']);
    assert.equal(badFlag.status, 1);
    assert.match(badFlag.stderr, /^error: option '--port <n>' argument 'eighty' is invalid/);
  });

  it('serve refuses a non-loopback address without API keys, before touching anything', () => {
    const dataDir = join(tmp, 'refused');
    const res = run(['serve', '--host', '0.0.0.0', '--port', '0'], { AUDITLINE_DATA_DIR: dataDir });
    assert.equal(res.status, 2, res.stderr);
    assert.match(res.stderr, /^error: AUDIT_ERR_CONFIG: refusing to listen on 0\.0\.0\.0 without API keys/);
    assert.equal(existsSync(dataDir), false, 'no data directory was created');
  });

  it('worker needs the distributed setup', () => {
    const res = run(['worker'], { AUDITLINE_DATA_DIR: join(tmp, 'w') });
    assert.equal(res.status, 2);
    assert.match(res.stderr, /^error: AUDIT_ERR_CONFIG: a separate worker needs REDIS_URL and DATABASE_URL/);
  });

  it('serve (embedded) accepts events, stores them, and exits 0 on SIGTERM', async () => {
    const dataDir = join(tmp, 'embedded');
    const { child, match, output } = await start(
      ['serve', '--port', '0', '--data-dir', dataDir],
      { AUDITLINE_BATCH_MAX_WAIT_MS: '50' },
      /listening on (http:\/\/127\.0\.0\.1:\d+)/,
    );
    try {
      const url = match[1] as string;
      const post = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ event_type: 'cli.test', user_id: 'u1' }, { event_type: 'cli.test' }]),
      });
      assert.equal(post.status, 202);
      const ids = ((await post.json()) as { id: string }[]).map((r) => r.id).sort();
      let stored: string[] = [];
      for (let i = 0; i < 200 && stored.length < 2; i++) {
        const res = await fetch(`${url}/v1/events?event_type=cli.test`);
        stored = ((await res.json()) as { events: { id: string }[] }).events.map((e) => e.id).sort();
        if (stored.length < 2) await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(stored, ids);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exitCode(child), 0, output());
    assert.match(output(), /SIGTERM received, shutting down/);
    assert.match(output(), /auditline: stopped/);
  });

  it('worker (distributed) starts, and on SIGTERM stops gracefully with exit 0', async () => {
    const schema = uniqueSchema('cliw');
    const prefix = uniquePrefix('cliw');
    try {
      const { child, output } = await start(
        ['worker', '--schema', schema, '--key-prefix', prefix, '--consumer', 'cli-test'],
        { REDIS_URL, DATABASE_URL },
        /worker cli-test started/,
      );
      child.kill('SIGTERM');
      assert.equal(await exitCode(child), 0, output());
      assert.match(output(), /worker stopped/);
    } finally {
      await dropPrefix(prefix);
      await dropSchema(schema);
    }
  });
});
