/**
 * Summarises V8 CPU profiles (`node --cpu-prof`): self time by function and by module
 * (npm package, Node internals, auditline's own files, GC). Used on the end-to-end workers
 * with `--profile`; also runnable alone:
 *
 *   node --import tsx bench/profile.ts <file-or-dir.cpuprofile> [top]
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  files: string[];
  /** Total sampled time across files, ms. */
  totalMs: number;
  /** Share (%) of sampled time, excluding idle, by module. */
  byModule: { module: string; pct: number }[];
  /** Hottest functions by self time, % of non-idle time. */
  topFunctions: { fn: string; where: string; pct: number }[];
  /** Share (%) of all sampled time the process was idle (waiting on I/O). */
  idlePct: number;
}

function moduleOf(url: string, fn: string): string {
  if (fn === '(garbage collector)') return '(gc)';
  if (fn === '(program)') return '(program: native, unattributed)';
  if (fn === '(idle)') return '(idle)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const own = /\/(dist|src)\/(.+)$/.exec(url);
  if (own) return `auditline ${own[2]!.split('/').slice(0, -1).join('/') || '.'}`;
  return url === '' ? '(native)' : url;
}

export async function summariseProfiles(path: string, top = 25): Promise<ProfileSummary> {
  const files = (await stat(path)).isDirectory()
    ? (await readdir(path)).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(path, f))
    : [path];
  const selfByFn = new Map<string, number>();
  const selfByModule = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const file of files) {
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples.forEach((id, i) => {
      const dt = (profile.timeDeltas[i] ?? 0) / 1000;
      const node = byId.get(id);
      if (!node) return;
      const { functionName, url, lineNumber } = node.callFrame;
      total += dt;
      if (functionName === '(idle)') {
        idle += dt;
        return;
      }
      const where = url ? `${url.replace(/^.*\/(node_modules|dist|src)\//, '$1/')}:${lineNumber + 1}` : '';
      const key = `${functionName || '(anonymous)'}\u0000${where}`;
      selfByFn.set(key, (selfByFn.get(key) ?? 0) + dt);
      const mod = moduleOf(url, functionName);
      selfByModule.set(mod, (selfByModule.get(mod) ?? 0) + dt);
    });
  }
  const busy = total - idle || 1;
  const pct = (ms: number) => Math.round((ms / busy) * 1000) / 10;
  return {
    files,
    totalMs: Math.round(total),
    idlePct: Math.round((idle / (total || 1)) * 1000) / 10,
    byModule: [...selfByModule]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([module, ms]) => ({ module, pct: pct(ms) })),
    topFunctions: [...selfByFn]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, ms]) => {
        const [fn, where] = key.split('\u0000') as [string, string];
        return { fn, where, pct: pct(ms) };
      }),
  };
}

/** Plain-text rendering of a summary. */
export function formatProfile(s: ProfileSummary): string {
  const lines = [
    `CPU profile of ${s.files.length} process(es), ${Math.round(s.totalMs / 1000)} s sampled, idle ${s.idlePct} %`,
    'self time by module (% of busy time):',
    ...s.byModule.map((m) => `  ${String(m.pct).padStart(5)} %  ${m.module}`),
    'hottest functions (self time, % of busy time):',
    ...s.topFunctions.map((f) => `  ${String(f.pct).padStart(5)} %  ${f.fn}  ${f.where}`),
  ];
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const target = process.argv[2];
  if (!target) {
    console.error('usage: node --import tsx bench/profile.ts <file-or-dir> [top]');
    process.exit(2);
  }
  console.log(formatProfile(await summariseProfiles(target, Number(process.argv[3] ?? 25))));
}
