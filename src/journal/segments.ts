/**
 * Segment files: naming, listing, and reading a byte range.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

const SEGMENT_RE = /^journal-(\d+)\.seg$/;

/** One segment file. `size` is the number of bytes known to hold complete records. */
export interface Segment {
  num: number;
  path: string;
  size: number;
  /** No more appends: written by an earlier process, or rolled. */
  sealed: boolean;
}

export function segmentName(num: number): string {
  return `journal-${String(num).padStart(6, '0')}.seg`;
}

/** Every segment in `dir`, oldest first, each sealed (a new process never appends to old ones). */
export async function listSegments(dir: string): Promise<Segment[]> {
  const out: Segment[] = [];
  for (const name of await readdir(dir)) {
    const m = SEGMENT_RE.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    const st = await stat(path);
    out.push({ num: Number(m[1]), path, size: st.size, sealed: true });
  }
  return out.sort((a, b) => a.num - b.num);
}

/** Reads bytes `[start, end)` of a file; shorter if the file is shorter. */
export async function readRange(path: string, start: number, end: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(Math.max(0, end - start));
  const fh = await open(path, 'r');
  try {
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, start + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === buf.length ? buf : buf.subarray(0, filled);
  } finally {
    await fh.close();
  }
}
