/**
 * What the benchmark reads from the machine: its description (for the results file) and,
 * on Linux, per-process peak RSS and CPU time from /proc. Elsewhere the /proc readers
 * return null and the report says "n/a".
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { Redis } from 'ioredis';
import type pg from 'pg';

export interface MachineInfo {
  hostname: string;
  cpuModel: string;
  cores: number;
  ramGiB: number;
  os: string;
  node: string;
  redis: string;
  postgres: string;
  gitCommit: string | null;
  /** 1-minute load average when the run started: other work on a shared machine shows here. */
  loadAvgAtStart: number;
}

export async function machineInfo(redis: Redis, db: pg.Client): Promise<MachineInfo> {
  const info = await redis.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const pgVersion =
    (await db.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? 'unknown';
  let gitCommit: string | null = null;
  try {
    gitCommit = execFileSync('git', ['describe', '--always', '--dirty'], {
      encoding: 'utf8',
      stdio: 'pipe',
    }).trim();
  } catch {
    // not a git checkout
  }
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    redis: version,
    postgres: pgVersion,
    gitCommit,
    loadAvgAtStart: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

/** Peak resident set size (VmHWM) of a live process, in MiB, or null. */
export function peakRssMiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : null;
  } catch {
    return null;
  }
}

const TICKS_PER_S = 100; // USER_HZ on every Linux build Node supports

/** User + system CPU seconds a process has used, or null. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may contain spaces).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_S;
  } catch {
    return null;
  }
}

/** Pids of processes whose command name is `comm` (e.g. `postgres`, `redis-server`). */
export function pidsByName(comm: string): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() === comm) out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((s, x) => s + x, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: (total - idle) / TICKS_PER_S, total: total / TICKS_PER_S };
  } catch {
    return null;
  }
}

/** CPU used by groups of processes between two snapshots; each value in cores (1.0 = one core busy). */
export class CpuMeter {
  private start = new Map<string, number>();
  private machineStart: { busy: number; total: number } | null = null;
  private t0 = 0;

  constructor(private readonly groups: () => Record<string, number[]>) {}

  private snapshot(): Map<string, number> {
    const m = new Map<string, number>();
    for (const [name, pids] of Object.entries(this.groups())) {
      let sum = 0;
      for (const pid of pids) sum += cpuSeconds(pid) ?? 0;
      m.set(name, sum);
    }
    return m;
  }

  begin(): void {
    this.start = this.snapshot();
    this.machineStart = machineCpuSeconds();
    this.t0 = performance.now();
  }

  /** Cores used per group, plus `machine` (every process, other users' included). */
  end(): Record<string, number> {
    const seconds = (performance.now() - this.t0) / 1000;
    const out: Record<string, number> = {};
    for (const [name, v] of this.snapshot()) {
      out[name] = round2((v - (this.start.get(name) ?? 0)) / seconds);
    }
    const m = machineCpuSeconds();
    if (m && this.machineStart) out.machine = round2((m.busy - this.machineStart.busy) / seconds);
    return out;
  }
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
