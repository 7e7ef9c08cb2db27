import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnCli } from '../helpers/processes.js';

describe('auditline bench', () => {
  it('--help documents the benchmark options and runs nothing', async () => {
    const p = spawnCli(['bench', '--help'], {});
    const { code } = await p.exited;
    assert.equal(code, 0, p.output());
    assert.match(p.output(), /Benchmark options:/);
    assert.match(p.output(), /--only <parts>/);
  });

  it('passes options through to bench/run.ts, whose own validation answers', async () => {
    const p = spawnCli(['bench', '--scale', 'huge'], {});
    const { code } = await p.exited;
    assert.notEqual(code, 0);
    assert.match(p.output(), /--scale must be full or tiny/);
  });
});
