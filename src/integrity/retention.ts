/**
 * Retention: the only way rows leave the append-only log. Whole monthly partitions that end
 * before the cutoff are dropped (optionally exported to gzip NDJSON first); block rows are
 * kept, so the chain still verifies, and each purge is recorded in `audit_retention`, so
 * `verify` reports the purged range instead of a break.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { ConfigError } from '../core/errors.js';
import type { PartitionInfo } from '../store/integrity-port.js';
import type { StoreAdapter } from '../store/port.js';

const UNIT_MS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Milliseconds of a duration such as `90d`, `12h` or `8w`. Throws ConfigError otherwise. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,6})([hdw])$/.exec(text.trim());
  if (!m) throw new ConfigError(`duration must look like 90d, 12h or 8w, got "${text}"`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

export interface RetentionPlan {
  cutoff: string;
  /** Partitions entirely before the cutoff. */
  partitions: PartitionInfo[];
}

/** The partitions that end at or before `now - olderThanMs`. */
export async function planRetention(
  store: Pick<StoreAdapter, 'integrity'>,
  olderThanMs: number,
  now = Date.now(),
): Promise<RetentionPlan> {
  const cutoff = now - olderThanMs;
  const partitions = (await store.integrity.partitions()).filter((p) => Date.parse(p.range_end) <= cutoff);
  return { cutoff: new Date(cutoff).toISOString(), partitions };
}

/** Writes a partition's events as gzip NDJSON (`<dir>/<partition>.ndjson.gz`); never overwrites. */
export async function exportPartition(
  store: Pick<StoreAdapter, 'scan'>,
  part: PartitionInfo,
  dir: string,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = resolve(join(dir, `${part.name}.ndjson.gz`));
  const lines = async function* () {
    for await (const e of store.scan({ from: part.range_start, to: part.range_end })) {
      yield `${JSON.stringify(e)}\n`;
    }
  };
  await pipeline(Readable.from(lines()), createGzip(), createWriteStream(file, { flags: 'wx' }));
  return file;
}

/** Exports (when `exportDir` is given) then drops each planned partition; returns rows dropped per partition. */
export async function applyRetention(
  store: Pick<StoreAdapter, 'integrity' | 'scan'>,
  plan: RetentionPlan,
  exportDir: string | null,
): Promise<{ partition: string; rows: number; exportFile: string | null }[]> {
  const out: { partition: string; rows: number; exportFile: string | null }[] = [];
  for (const p of plan.partitions) {
    // Export strictly before the drop: the rows are gone for good once it commits.
    const exportFile = exportDir ? await exportPartition(store, p, exportDir) : null;
    const rows = await store.integrity.dropPartition(p.name, exportFile);
    out.push({ partition: p.name, rows, exportFile });
  }
  return out;
}
