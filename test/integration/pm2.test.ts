/**
 * The PM2 deployment (`ecosystem.config.cjs`) for real: PM2 from devDependencies, with its
 * own PM2_HOME in a temp dir (never the user's ~/.pm2), starts the built CLI as one server
 * and 4 workers against the shared Redis and PostgreSQL (own key prefix and schema). The
 * test sees 4 consumers in the group, events posted over HTTP stored, then a clean stop:
 * every worker drains and exits on PM2's signal before kill_timeout, and no process is left.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config.js';
import {
  DATABASE_URL,
  dropPrefix,
  dropSchema,
  REDIS_URL,
  sql,
  uniquePrefix,
  uniqueSchema,
} from '../helpers/env.js';
import { assertBuilt, REPO_ROOT, waitUntil } from '../helpers/processes.js';

const run = promisify(execFile);
const PM2 = resolve(REPO_ROOT, 'node_modules/pm2/bin/pm2');
const ECOSYSTEM = resolve(REPO_ROOT, 'ecosystem.config.cjs');

interface Pm2Process {
  name: string;
  pm_id: number;
  pid: number;
  pm2_env: { status: string; restart_time: number };
}

/** What ecosystem.config.cjs exports (the fields this test checks). */
interface Ecosystem {
  apps: { name: string; args: string; instances: number; exec_mode: string; kill_timeout: number }[];
}

/** A TCP port nothing listens on right now. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** True once the process is gone (a zombie awaiting its parent's wait() counts as gone). */
async function gone(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return /^\d+ \(.*\) Z/.test(stat);
}

/** The consumer names of the 4 PM2 worker instances. */
const STABLE_NAMES = [0, 1, 2, 3].map((i) => `${hostname()}-${i}`).sort();

let tmp: string;
let env: NodeJS.ProcessEnv;
let prefix: string;
let schema: string;
let port: number;
let redis: Redis;

/** Runs the PM2 CLI against the isolated PM2_HOME. */
async function pm2(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [PM2, ...args], { cwd: REPO_ROOT, env, timeout: 120_000 });
  return stdout;
}

async function list(): Promise<Pm2Process[]> {
  return JSON.parse(await pm2('jlist')) as Pm2Process[];
}

async function consumers(): Promise<string[]> {
  try {
    const rows = (await redis.xinfo('CONSUMERS', `${prefix}:events`, 'workers')) as unknown[][];
    return rows.map((fields) => String(fields[fields.indexOf('name') + 1]));
  } catch {
    return []; // no stream or group yet: the workers create it on start
  }
}

async function postEvent(n: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ event_type: 'pm2.test', user_id: 'pm2-test', metadata: { n } }),
  });
  assert.equal(res.status, 202, await res.clone().text());
  const [result] = (await res.json()) as { id: string; outcome: string }[];
  assert.equal(result?.outcome, 'queued');
  return result.id;
}

before(async () => {
  assertBuilt(); // npm test builds dist/ first; run `npm run build` when running this file alone
  tmp = await mkdtemp(join(tmpdir(), 'auditline-pm2-'));
  prefix = uniquePrefix('pm2');
  schema = uniqueSchema('pm2');
  port = await freePort();
  env = {
    ...process.env,
    PM2_HOME: join(tmp, 'pm2'),
    AUDITLINE_LOG_DIR: join(tmp, 'logs'),
    // Each process opens a spill journal under the data directory and replays what it finds
    // there: never the repository's ./auditline-data, where other runs may have left events.
    AUDITLINE_DATA_DIR: join(tmp, 'data'),
    REDIS_URL,
    DATABASE_URL,
    AUDITLINE_KEY_PREFIX: prefix,
    AUDITLINE_SCHEMA: schema,
    AUDITLINE_HOST: '127.0.0.1',
    PORT: String(port),
  };
  // Settings that would change what the deployment does are not inherited from the caller.
  delete env.AUDITLINE_API_KEYS;
  delete env.AUDITLINE_CONSUMER_NAME;
  delete env.AUDITLINE_JOURNAL_DIR;
  delete env.AUDITLINE_SHUTDOWN_TIMEOUT_MS;
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});

after(async () => {
  // Whatever happened above, leave no daemon behind; `kill` on a dead daemon is harmless.
  if (env) await pm2('kill').catch(() => {});
  redis?.disconnect();
  if (prefix) await dropPrefix(prefix);
  if (schema) await dropSchema(schema);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('ecosystem.config.cjs', () => {
  it("declares the seed's deployment: 1 server, 4 forked workers, kill_timeout above the drain time", () => {
    const eco = createRequire(import.meta.url)(ECOSYSTEM) as Ecosystem;
    const drainMs = loadConfig({}, {}).shutdownTimeoutMs;
    const server = eco.apps.find((a) => a.args === 'serve');
    const workers = eco.apps.find((a) => a.args === 'worker');
    assert.equal(server?.instances, 1);
    assert.equal(workers?.instances, 4);
    assert.equal(workers?.exec_mode, 'fork');
    for (const app of eco.apps) {
      assert.ok(app.kill_timeout > drainMs, `${app.name}: kill_timeout ${app.kill_timeout} > ${drainMs}`);
    }
  });

  it('names consumers <hostname>-<NODE_APP_INSTANCE> under PM2, else <hostname>-<pid>; the variable wins', () => {
    assert.equal(loadConfig({}, { NODE_APP_INSTANCE: '2' }).consumerName, `${hostname()}-2`);
    assert.equal(loadConfig({}, {}).consumerName, `${hostname()}-${process.pid}`);
    assert.equal(loadConfig({}, { NODE_APP_INSTANCE: 'x' }).consumerName, `${hostname()}-${process.pid}`);
    assert.equal(
      loadConfig({}, { NODE_APP_INSTANCE: '2', AUDITLINE_CONSUMER_NAME: 'w-a' }).consumerName,
      'w-a',
    );
  });
});

describe('PM2 runs the server and 4 workers', () => {
  const posted: string[] = [];
  let pids: number[] = [];

  it('starts, and each of the 4 worker processes is one consumer of the group', async () => {
    await pm2('start', ECOSYSTEM);
    const procs = await list();
    assert.deepEqual(procs.map((p) => p.name).sort(), [
      'auditline-server',
      'auditline-worker',
      'auditline-worker',
      'auditline-worker',
      'auditline-worker',
    ]);
    pids = procs.map((p) => p.pid);
    await waitUntil(
      async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.ok === true,
      60_000,
      'the server to answer /healthz',
    );
    // Redis 7.0 adds a consumer to the group at its first delivered entry, not at a read
    // that times out empty. Post one event at a time: each goes to the worker that has
    // been blocked longest, so all 4 show up after a few.
    await waitUntil(
      async () => {
        posted.push(await postEvent(posted.length));
        await new Promise((r) => setTimeout(r, 100));
        return (await consumers()).length >= 4;
      },
      60_000,
      `4 consumers in group "workers" of ${prefix}:events`,
    );
    // Under PM2 the default consumer name is <hostname>-<NODE_APP_INSTANCE>: one consumer
    // per instance, no more.
    assert.deepEqual((await consumers()).sort(), STABLE_NAMES);
    const restarted = (await list()).filter((p) => p.pm2_env.restart_time > 0);
    assert.deepEqual(restarted, [], 'no process restarted');
  });

  it('every event posted to the server is stored by the workers, and none is left pending', async () => {
    assert.ok(posted.length >= 4);
    await waitUntil(
      async () => {
        const [row] = await sql<{ n: string }>(
          `SELECT count(*) AS n FROM "${schema}".audit_logs WHERE id = ANY($1::uuid[])`,
          [posted],
        );
        return Number(row?.n) === posted.length;
      },
      60_000,
      `${posted.length} posted events in ${schema}.audit_logs`,
    );
    const pending = (await redis.xpending(`${prefix}:events`, 'workers')) as [number, ...unknown[]];
    assert.equal(pending[0], 0);
  });

  it('a restarted worker comes back under its own consumer name: still 4 consumers, none pending', async () => {
    const before = (await list()).find((p) => p.name === 'auditline-worker')!;
    await pm2('restart', String(before.pm_id));
    await waitUntil(
      async () => {
        const p = (await list()).find((x) => x.pm_id === before.pm_id);
        return p?.pm2_env.status === 'online' && p.pid !== before.pid && p.pid > 0;
      },
      60_000,
      `worker ${before.pm_id} to be back online`,
    );
    const after = (await list()).find((p) => p.pm_id === before.pm_id)!;
    pids.push(after.pid);
    // Posted events keep flowing to the 4 consumers, and no fifth (a per-pid name) appears.
    const more: string[] = [];
    for (let i = 0; i < 8; i++) more.push(await postEvent(1000 + i));
    posted.push(...more);
    await waitUntil(
      async () => {
        const [row] = await sql<{ n: string }>(
          `SELECT count(*) AS n FROM "${schema}".audit_logs WHERE id = ANY($1::uuid[])`,
          [more],
        );
        return Number(row?.n) === more.length;
      },
      60_000,
      'events posted after the restart to be stored',
    );
    assert.deepEqual((await consumers()).sort(), STABLE_NAMES);
    await waitUntil(
      async () => ((await redis.xpending(`${prefix}:events`, 'workers')) as [number])[0] === 0,
      60_000,
      'every entry to be acknowledged',
    );
  });

  it('`pm2 delete all` stops every process gracefully and `pm2 kill` leaves nothing running', async () => {
    const daemonPid = Number(await readFile(join(tmp, 'pm2', 'pm2.pid'), 'utf8'));
    await pm2('delete', 'all');
    assert.deepEqual(await list(), []);
    await pm2('kill');
    await waitUntil(
      async () => (await Promise.all([...pids, daemonPid].map(gone))).every(Boolean),
      20_000,
      `processes ${[...pids, daemonPid].join(', ')} to exit`,
    );
    // Each process ran its own shutdown (drain, close) on PM2's signal, within kill_timeout.
    const logs = join(tmp, 'logs');
    const workerOut = await readFile(join(logs, 'auditline-worker.out.log'), 'utf8');
    // 4 at the end, plus the one restarted above.
    assert.equal(workerOut.match(/auditline: worker stopped/g)?.length, 5, workerOut);
    const serverOut = await readFile(join(logs, 'auditline-server.out.log'), 'utf8');
    assert.match(serverOut, /auditline: stopped/);
    const daemonLog = await readFile(join(tmp, 'pm2', 'pm2.log'), 'utf8');
    assert.doesNotMatch(daemonLog, /sending it SIGKILL/, 'no process needed SIGKILL');
    assert.ok(!existsSync(join(tmp, 'pm2', 'rpc.sock')), 'the daemon removed its socket');
  });
});
