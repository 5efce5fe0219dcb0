import { describe, it } from 'node:test';
import { expect } from 'expect';
import { throttledWarn } from '../../src/common/throttled-log';

describe('throttled warnings (a queue reconnecting to a Redis that is away)', () => {
  it('logs a repeated message once per period, then says how many it left out', async () => {
    const lines: string[] = [];
    const warn = throttledWarn((m) => lines.push(m), 200);
    for (let i = 0; i < 50; i++) warn('procedures queue: connect ECONNREFUSED 127.0.0.1:6379');
    warn('health queue: connect ECONNREFUSED 127.0.0.1:6379');
    expect(lines).toEqual(['procedures queue: connect ECONNREFUSED 127.0.0.1:6379', 'health queue: connect ECONNREFUSED 127.0.0.1:6379']);
    await new Promise((r) => setTimeout(r, 250));
    warn('procedures queue: connect ECONNREFUSED 127.0.0.1:6379');
    expect(lines[2]).toMatch(/^procedures queue: connect ECONNREFUSED 127\.0\.0\.1:6379 \(49 more like it in the last 0 s\)$/);
  });
});
