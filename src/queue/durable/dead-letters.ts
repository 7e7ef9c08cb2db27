/**
 * Dead letters of the durable embedded queue, kept in one JSON file next to its journal.
 *
 * Why a file and not a second journal: dead letters are removed one by one, in any order
 * (`auditline dlq replay/remove`), which an append-only journal acknowledged in read order
 * cannot express. They are rare (poison events only), so rewriting the whole file on each
 * change costs little. Each write goes to a temp file, is fsync'd (unless the policy is
 * `never`) and renamed over the old one, so a crash leaves either the old or the new list.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeadLetter } from '../port.js';

export const DEAD_LETTER_FILE = 'dead-letters.json';

/** The persisted dead-letter list; every change resolves once it is on disk. */
export class DeadLetterFile {
  private letters: DeadLetter[] = [];
  private seq = 0;
  /** Serializes writes, so each one persists the list as of its own change. */
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly durable: boolean,
  ) {}

  /**
   * Loads `dead-letters.json` from `dir` (an empty list when it does not exist).
   * @throws Error when the file exists but is not a JSON array: refusing to start beats
   * silently overwriting dead letters an operator has not looked at yet.
   */
  static async load(dir: string, durable: boolean): Promise<DeadLetterFile> {
    const f = new DeadLetterFile(join(dir, DEAD_LETTER_FILE), durable);
    let text: string | null = null;
    try {
      text = await readFile(f.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== null) {
      const parsed: unknown = JSON.parse(text);
      if (!Array.isArray(parsed)) throw new Error(`${f.path}: expected a JSON array of dead letters`);
      f.letters = parsed as DeadLetter[];
      for (const d of f.letters) {
        const n = Number(/^d-(\d+)$/.exec(d.deadId)?.[1] ?? 0);
        if (n > f.seq) f.seq = n;
      }
    }
    return f;
  }

  get count(): number {
    return this.letters.length;
  }

  /** Oldest first, copies. */
  list(max: number): DeadLetter[] {
    return this.letters.slice(0, Math.max(0, max)).map((d) => ({ ...d }));
  }

  /** Appends dead letters; resolves once the file holds them. On failure the list is unchanged. */
  add(items: readonly Omit<DeadLetter, 'deadId'>[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return this.change((current) => [...current, ...items.map((d) => ({ deadId: `d-${++this.seq}`, ...d }))]);
  }

  /** Removes dead letters by id; resolves once the file no longer holds them. */
  remove(deadIds: readonly string[]): Promise<void> {
    const drop = new Set(deadIds);
    return this.change((current) => current.filter((d) => !drop.has(d.deadId)));
  }

  /** Waits for pending writes. */
  async close(): Promise<void> {
    await this.chain;
  }

  private change(next: (current: DeadLetter[]) => DeadLetter[]): Promise<void> {
    const run = this.chain.then(async () => {
      const updated = next(this.letters);
      await this.write(updated);
      this.letters = updated;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async write(letters: DeadLetter[]): Promise<void> {
    const tmp = `${this.path}.${randomBytes(4).toString('hex')}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(letters));
      if (this.durable) await fh.datasync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, this.path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
}
