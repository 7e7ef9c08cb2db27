/** The results file and the Markdown table (targets from issue 6 beside each number). */
import type { BenchReport, RunResult } from './bench.js';

type Check = boolean | null;

const fmt = (x: number | null | undefined, digits = 0): string => {
  if (x === null || x === undefined || Number.isNaN(x)) return 'n/a';
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
};

const mark = (ok: Check): string => (ok === null ? '' : ok ? '✅' : '❌');

/** One row per reported number: part, metric, value, target, met. */
export function tableRows(m: RunResult): [string, string, string, string, Check][] {
  const rows: [string, string, string, string, Check][] = [];
  if (m.limit) {
    rows.push([
      'limit',
      `COPY, ${m.limit.connections} connections, ${fmt(m.limit.rows)} rows`,
      `${fmt(m.limit.rowsPerS)} rows/s`,
      'the ceiling',
      null,
    ]);
  }
  if (m.e2e) {
    const e = m.e2e;
    rows.push([
      'end to end',
      `events/s committed, ${e.workers} workers, ${e.producers} producer processes`,
      fmt(e.eventsPerS),
      '≥ 40,000',
      e.eventsPerS >= 40_000,
    ]);
    rows.push([
      'end to end',
      'ratio to the limit',
      e.ratioToLimit === null ? 'n/a' : fmt(e.ratioToLimit, 2),
      '≥ 0.5',
      e.ratioToLimit === null ? null : e.ratioToLimit >= 0.5,
    ]);
    rows.push([
      'end to end',
      'accepted but not stored after close (queued + spilled + direct − rows)',
      fmt(e.notStored),
      '0',
      e.notStored === 0,
    ]);
  }
  if (m.drain) {
    const d = m.drain;
    rows.push([
      'drain',
      `events/s committed from a ${fmt(d.backlog)}-event backlog, ${d.workers} workers, no producers running`,
      `${fmt(d.eventsPerS)} (${d.ratioToLimit === null ? 'n/a' : fmt(d.ratioToLimit, 2)} × limit)`,
      '',
      null,
    ]);
  }
  if (m.seed) {
    const s = m.seed;
    rows.push([
      'seed scenario',
      `${fmt(s.offeredPerS)}/s offered, ${s.workers} workers, cap ${fmt(s.queueCap)}: stored / dropped / spilled / direct`,
      `${fmt(s.stored)} / ${fmt(s.dropped)} / ${fmt(s.spilled)} / ${fmt(s.direct)}`,
      '0 dropped',
      s.dropped === 0,
    ]);
    rows.push([
      'seed scenario',
      'accepted but not stored after close (queued + spilled + direct − rows)',
      fmt(s.notStored),
      '0',
      s.notStored === 0,
    ]);
    rows.push([
      'seed scenario',
      'log() latency p50 / p99 / p99.9 (ms)',
      `${fmt(s.logP50Ms, 2)} / ${fmt(s.logP99Ms, 2)} / ${fmt(s.logP999Ms, 2)}`,
      'p99 ≤ 2',
      s.logP99Ms <= 2,
    ]);
    rows.push([
      'seed scenario',
      'Redis PING round trip meanwhile, own connection, every ms: p50 / p99 (ms)',
      `${fmt(s.redisPingP50Ms, 2)} / ${fmt(s.redisPingP99Ms, 2)}`,
      'the floor under log()',
      null,
    ]);
    rows.push([
      'seed scenario',
      'created→committed p50 / p99 (ms)',
      `${fmt(s.createdToCommittedP50Ms)} / ${fmt(s.createdToCommittedP99Ms)}`,
      'p99 ≤ 1,500',
      s.createdToCommittedP99Ms <= 1500,
    ]);
  }
  if (m.http) {
    const h = m.http;
    rows.push([
      'HTTP',
      `single-event POST, ${h.single.connections} connections: requests/s, p99 ms`,
      `${fmt(h.single.requestsPerS)}, ${fmt(h.single.p99Ms, 1)}`,
      '≥ 10,000, ≤ 20',
      h.single.requestsPerS >= 10_000 && h.single.p99Ms <= 20,
    ]);
    rows.push([
      'HTTP',
      `${h.batchEvents}-event POST, ${h.batch.connections} connections: events/s (requests/s), p99 ms`,
      `${fmt(h.batch.eventsPerS)} (${fmt(h.batch.requestsPerS)}), ${fmt(h.batch.p99Ms, 1)}`,
      '≥ 40,000 events/s',
      h.batch.eventsPerS >= 40_000,
    ]);
  }
  if (m.embedded) {
    rows.push([
      'embedded',
      `events/s into PGlite (${fmt(m.embedded.events)} events)`,
      fmt(m.embedded.eventsPerS),
      '≥ 10,000',
      m.embedded.eventsPerS >= 10_000,
    ]);
  }
  const workerRss = [m.e2e?.workerPeakRssMiB, m.seed?.workerPeakRssMiB, m.http?.workerPeakRssMiB].filter(
    (x): x is number => typeof x === 'number',
  );
  if (workerRss.length > 0) {
    const peak = Math.max(...workerRss);
    rows.push([
      'memory',
      'worker peak RSS, MiB (end to end / seed / HTTP)',
      `${fmt(m.e2e?.workerPeakRssMiB)} / ${fmt(m.seed?.workerPeakRssMiB)} / ${fmt(m.http?.workerPeakRssMiB)}`,
      '≤ 250',
      peak <= 250,
    ]);
  }
  if (m.e2e || m.seed) {
    rows.push([
      'memory',
      'producer peak RSS, MiB (end to end / seed)',
      `${fmt(m.e2e?.producerPeakRssMiB)} / ${fmt(m.seed?.producerPeakRssMiB)}`,
      '',
      null,
    ]);
    rows.push([
      'memory',
      'Redis used_memory peak, MiB (end to end / seed); backlog peak',
      `${fmt(m.e2e?.redisPeakUsedMemoryMiB, 1)} / ${fmt(m.seed?.redisPeakUsedMemoryMiB, 1)}; ${fmt(m.e2e?.peakBacklog)} / ${fmt(m.seed?.peakBacklog)}`,
      'bounded by the cap',
      m.seed ? m.seed.peakBacklog <= m.seed.queueCap : null,
    ]);
  }
  if (m.http) rows.push(['memory', 'serve peak RSS, MiB', fmt(m.http.serverPeakRssMiB), '', null]);
  return rows;
}

export function markdown(report: BenchReport): string {
  const m = report.median;
  const mc = report.machine;
  const n = report.runs.length;
  const lines = [
    `## Benchmark (${report.startedAt.slice(0, 10)}, ${n === 1 ? '1 run' : `median of ${n} runs`})`,
    '',
    `Machine: ${mc.cpuModel}, ${mc.cores} cores, ${mc.ramGiB} GiB RAM, ${mc.os}; Node ${mc.node}, ` +
      `Redis ${mc.redis}, PostgreSQL ${mc.postgres} (all local); load average at start ${mc.loadAvgAtStart}. ` +
      `Commit ${mc.gitCommit ?? 'n/a'}.`,
    `Command: \`${report.command}\`. Events: ~${report.eventSizes.inputBytes} bytes of JSON input ` +
      `(${report.eventSizes.sealedBytes} as enqueued), 95 % info / 5 % critical.`,
    '',
    '| part | metric | value | target | |',
    '|---|---|---:|---|---|',
    ...tableRows(m).map(
      ([part, metric, value, target, ok]) => `| ${part} | ${metric} | ${value} | ${target} | ${mark(ok)} |`,
    ),
  ];
  if (m.e2e) {
    const cpu = Object.entries(m.e2e.cpuCores)
      .map(([k, v]) => `${k} ${fmt(v, 2)}`)
      .join(', ');
    lines.push('', `End-to-end CPU in cores during the steady window: ${cpu}.`);
    if (m.limit?.cpuCores) {
      const l = Object.entries(m.limit.cpuCores)
        .map(([k, v]) => `${k} ${fmt(v, 2)}`)
        .join(', ');
      lines.push(`Limit (COPY) CPU in cores: ${l}.`);
    }
    if (m.drain) {
      const d = Object.entries(m.drain.cpuCores)
        .map(([k, v]) => `${k} ${fmt(v, 2)}`)
        .join(', ');
      lines.push(`Drain CPU in cores: ${d}.`);
    }
    if (m.e2e.highWater && m.e2e.peakBacklog < m.e2e.highWater / 2) {
      lines.push(
        `Note: the end-to-end backlog peaked at ${fmt(m.e2e.peakBacklog)} entries, below the producers' pause mark (${fmt(m.e2e.highWater)}): ` +
          'producers never got ahead of the workers, so that number is bound by the CPU the producers, workers, Redis and PostgreSQL need together on this machine (see the CPU line and the drain row).',
      );
    }
    if (m.e2e.starvedShare > 0.05) {
      lines.push(
        `Note: the stream was nearly empty in ${Math.round(m.e2e.starvedShare * 100)} % of end-to-end samples: producers, not workers, limited that number.`,
      );
    }
  }
  if (Object.keys(report.errors).length > 0) {
    lines.push(
      '',
      'Errors:',
      ...Object.entries(report.errors).map(([k, v]) => `- ${k}: ${v.split('\n')[0]}`),
    );
  }
  lines.push('', ...report.notes.map((x) => `- ${x}`));
  return `${lines.join('\n')}\n`;
}
