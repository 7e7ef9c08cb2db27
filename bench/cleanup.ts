/**
 * Everything a run creates, so that it can be removed whatever happens: child processes,
 * PostgreSQL schemas, Redis keys, temporary directories. `runAll()` is called from
 * `finally` and from the SIGINT/SIGTERM handlers; it never throws.
 */
import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import pg from 'pg';

const KILL_GRACE_MS = 10_000;

export class Cleanup {
  private readonly children = new Set<ChildProcess>();
  private readonly schemas = new Set<string>();
  private readonly prefixes = new Set<string>();
  private readonly dirs = new Set<string>();
  /** Directories that live as long as the whole run (the build copy), removed by `runAll(true)`. */
  private readonly runDirs = new Set<string>();

  constructor(
    private readonly redisUrl: string,
    private readonly databaseUrl: string,
  ) {}

  child(c: ChildProcess): ChildProcess {
    this.children.add(c);
    c.once('exit', () => this.children.delete(c));
    return c;
  }

  schema(name: string): string {
    this.schemas.add(name);
    return name;
  }

  prefix(name: string): string {
    this.prefixes.add(name);
    return name;
  }

  dir(path: string, scope: 'part' | 'run' = 'part'): string {
    (scope === 'run' ? this.runDirs : this.dirs).add(path);
    return path;
  }

  /** Kills a child: SIGTERM, then SIGKILL after a grace period. Resolves when it has exited. */
  static async stop(c: ChildProcess, graceMs = KILL_GRACE_MS): Promise<void> {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), graceMs);
    });
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      c.kill('SIGKILL');
      await exited;
    }
    clearTimeout(timer);
  }

  /** Synchronous last resort (process 'exit'): SIGKILL whatever still runs. */
  killAllNow(): void {
    for (const c of this.children) c.kill('SIGKILL');
  }

  /** Drops one schema now (and forgets it). */
  async dropSchema(name: string): Promise<void> {
    const c = new pg.Client({ connectionString: this.databaseUrl });
    await c.connect();
    try {
      await c.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      this.schemas.delete(name);
    } finally {
      await c.end();
    }
  }

  /** Deletes every key of one prefix now (and forgets it). */
  async dropPrefix(prefix: string): Promise<void> {
    const r = new Redis(this.redisUrl, { maxRetriesPerRequest: 1 });
    try {
      await deleteKeys(r, prefix);
      this.prefixes.delete(prefix);
    } finally {
      r.disconnect();
    }
  }

  /** Removes what the current part left; with `final`, also what the whole run shares. */
  async runAll(final = false): Promise<string[]> {
    const problems: string[] = [];
    await Promise.all([...this.children].map((c) => Cleanup.stop(c, 5_000).catch(() => {})));
    for (const s of [...this.schemas]) {
      await this.dropSchema(s).catch((err) => problems.push(`schema ${s}: ${String(err)}`));
    }
    for (const p of [...this.prefixes]) {
      await this.dropPrefix(p).catch((err) => problems.push(`keys ${p}*: ${String(err)}`));
    }
    const dirs = final ? [...this.dirs, ...this.runDirs] : [...this.dirs];
    for (const d of dirs) {
      await rm(d, { recursive: true, force: true }).catch((err) => problems.push(`dir ${d}: ${String(err)}`));
      this.dirs.delete(d);
      this.runDirs.delete(d);
    }
    return problems;
  }
}

/** Deletes `<prefix>` and every key under `<prefix>:`. */
export async function deleteKeys(r: Redis, prefix: string): Promise<void> {
  for (const pattern of [prefix, `${prefix}:*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  }
}
