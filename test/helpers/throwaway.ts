/**
 * Throwaway Redis and PostgreSQL servers for fault-injection tests. A test that kills,
 * stops or restarts a server must use one of these, never the shared servers on 6379/5432
 * that other test files are using at the same time.
 *
 * Each server gets a free port (found by binding port 0) and its own temp directory, and
 * listens on 127.0.0.1 only.
 *
 * Lifecycle: `stop()` is a graceful shutdown and `kill()` a crash; both keep the data
 * directory so that `restart()` brings the same server (same port, same data) back — a
 * PostgreSQL outage test needs its rows to survive. `destroy()` stops the server and removes
 * its temp directory; call it in `after()`. As a safety net, servers still running and temp
 * directories still present when the test process exits are killed and removed then.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** A server owned by one test. */
export interface ThrowawayServer {
  /** Connection URL (`redis://…` or `postgres://…`). */
  readonly url: string;
  readonly port: number;
  /** Temp directory holding the server's data and log. */
  readonly dir: string;
  /** Graceful shutdown; data is kept for `restart()`. */
  stop(): Promise<void>;
  /** Crash: SIGKILL (Redis) or `pg_ctl stop -m immediate` (PostgreSQL); data is kept. */
  kill(): Promise<void>;
  /** Starts the server again on the same port (stopping it gracefully first if running). */
  restart(): Promise<void>;
  /** Stops the server if running and removes its temp directory. Idempotent. */
  destroy(): Promise<void>;
}

// ---------------------------------------------------------------- shared plumbing

/** Synchronous cleanups run at process exit for servers a test did not destroy. */
const atExit = new Map<string, () => void>();
let exitHookInstalled = false;

function onExit(key: string, fn: () => void): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const f of atExit.values()) {
        try {
          f();
        } catch {
          // best effort: the process is exiting
        }
      }
    });
  }
  atExit.set(key, fn);
}

/** A TCP port that was free a moment ago (bind port 0, read it, release it). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  srv.close();
  await once(srv, 'close');
  if (addr === null || typeof addr === 'string') throw new Error('could not read the bound port');
  return addr.port;
}

async function waitUntil(what: string, ready: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------- Redis

/** Resolves true if a Redis server on `port` answers PING. Raw socket: no client retry noise. */
function pingRedis(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

/**
 * Starts `redis-server` (foreground child) on a free port. No persistence by default, so a
 * restart empties it; with `persist` it keeps an append-only file fsync'd on every write
 * (`appendfsync always`), so entries survive stop()/kill() and restart(), as they must for a
 * test asserting that nothing queued is lost across a Redis outage.
 */
export async function startRedis(opts: { persist?: boolean } = {}): Promise<ThrowawayServer> {
  const dir = await mkdtemp(join(tmpdir(), 'auditline-redis-'));
  const port = await freePort();
  const log = join(dir, 'redis.log');
  let child: ChildProcess | null = null;
  let destroyed = false;

  const start = async () => {
    if (destroyed) throw new Error('throwaway Redis was destroyed');
    const c = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        opts.persist ? 'yes' : 'no',
        ...(opts.persist ? ['--appendfsync', 'always'] : []),
        '--daemonize',
        'no',
        '--dir',
        dir,
        '--logfile',
        log,
      ],
      { stdio: 'ignore' },
    );
    child = c;
    c.once('exit', () => {
      if (child === c) child = null;
    });
    const exited = once(c, 'exit').then(() => {
      throw new Error(`redis-server exited during start:\n${tail(log)}`);
    });
    try {
      await Promise.race([waitUntil(`redis-server on ${port}`, () => pingRedis(port)), exited]);
    } finally {
      exited.catch(() => undefined);
    }
  };

  const signal = async (sig: NodeJS.Signals) => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, 'exit');
    c.kill(sig);
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  onExit(dir, () => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    await start();
  } catch (err) {
    await signal('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    atExit.delete(dir);
    throw err;
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    restart: async () => {
      await signal('SIGTERM');
      await start();
    },
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      await signal('SIGTERM');
      await rm(dir, { recursive: true, force: true });
      atExit.delete(dir);
    },
  };
}

// ---------------------------------------------------------------- PostgreSQL

/** `bin` directory of the highest PostgreSQL version under /usr/lib/postgresql. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+(\.\d+)?$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error(`no PostgreSQL server binaries (initdb) under ${root}`);
  return join(root, versions[0]!, 'bin');
}

/**
 * Runs a PostgreSQL binary. PostgreSQL refuses to run as root, and tests run as root, so
 * then it runs as the `postgres` OS user via `runuser`; as any other user it runs directly.
 */
function pgCommand(bin: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

async function pgRun(bin: string, args: string[]): Promise<void> {
  const [cmd, argv] = pgCommand(bin, args);
  try {
    await run(cmd, argv, { timeout: 120_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`${bin} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`, {
      cause: err,
    });
  }
}

async function pgAnswers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Starts a PostgreSQL cluster (initdb, trust auth, fsync off) on a free port, listening on
 * 127.0.0.1 only, with its socket in its own temp directory.
 */
export async function startPostgres(): Promise<ThrowawayServer> {
  const bin = postgresBinDir();
  const dir = await mkdtemp(join(tmpdir(), 'auditline-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    await chown(dir, uid, gid);
  }
  const port = await freePort();
  const data = join(dir, 'data');
  const log = join(dir, 'postgres.log');
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const serverOptions = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    // Throwaway data: no fsync. Committed WAL is still write()n to the OS at commit, so a
    // committed row survives kill() (a server crash) — only an OS crash could lose it. That
    // is why synchronous_commit stays on: fault tests rely on "committed" meaning committed.
    '-c fsync=off',
    '-c full_page_writes=off',
  ].join(' ');
  let running = false;
  let destroyed = false;

  const pgCtl = (args: string[]) => pgRun(join(bin, 'pg_ctl'), ['-D', data, ...args]);
  const start = async () => {
    if (destroyed) throw new Error('throwaway PostgreSQL was destroyed');
    try {
      await pgCtl(['-l', log, '-o', serverOptions, '-w', '-t', '60', 'start']);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await readFile(log, 'utf8').catch(() => '')}`);
    }
    running = true;
    await waitUntil(`postgres on ${port}`, () => pgAnswers(url));
  };
  const stopWith = async (mode: 'fast' | 'immediate') => {
    if (!running) return;
    await pgCtl(['-m', mode, '-w', '-t', '60', 'stop']);
    running = false;
  };

  onExit(dir, () => {
    if (running) {
      const [cmd, argv] = pgCommand(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      spawnSync(cmd, argv, { stdio: 'ignore', timeout: 30_000 });
    }
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    await pgRun(join(bin, 'initdb'), [
      '-D',
      data,
      '-A',
      'trust',
      '-U',
      'postgres',
      '-E',
      'UTF8',
      '--no-sync',
    ]);
    await start();
  } catch (err) {
    await stopWith('immediate').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    atExit.delete(dir);
    throw err;
  }

  return {
    url,
    port,
    dir,
    stop: () => stopWith('fast'),
    kill: () => stopWith('immediate'),
    restart: async () => {
      await stopWith('fast');
      await start();
    },
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      await stopWith('fast').catch(() => stopWith('immediate'));
      await rm(dir, { recursive: true, force: true });
      atExit.delete(dir);
    },
  };
}
