import { describe, it } from 'node:test';
import { expect } from 'expect';
import { Batcher, databaseUnreachable } from '../../src/common/batcher';

/** A write that the test releases by hand, recording each batch it was given. */
function gatedWrite(fail: (items: number[]) => unknown = () => undefined) {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const write = async (items: number[]) => {
    batches.push(items);
    await new Promise<void>((resolve) => gates.push(resolve));
    const error = fail(items);
    if (error) throw error;
    return items.map((i) => i * 10);
  };
  const release = async () => {
    while (!gates.length) await new Promise((r) => setImmediate(r));
    gates.shift()!();
  };
  return { batches, write, release };
}

const settle = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ value }),
    (error: Error) => ({ error: error.message }),
  );

describe('Batcher (group commit)', () => {
  it('writes what arrives during a write as the next batch, in arrival order, and answers each item', async () => {
    const w = gatedWrite();
    const b = new Batcher<number, number>(w.write, 3);
    const answers = [1, 2, 3, 4, 5, 6].map((i) => b.submit(i));
    await w.release(); // [1]
    await w.release(); // [2, 3, 4]
    await w.release(); // [5, 6]
    expect(await Promise.all(answers)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(w.batches).toEqual([[1], [2, 3, 4], [5, 6]]);
  });

  it('a batch the database refuses is written item by item: only the refused item fails', async () => {
    const refused = Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' });
    const w = gatedWrite((items) => (items.includes(3) ? refused : undefined));
    const b = new Batcher<number, number>(w.write, 10);
    const answers = [1, 2, 3, 4].map((i) => settle(b.submit(i)));
    for (let i = 0; i < 5; i++) await w.release(); // [1], [2, 3, 4] refused, then [2], [3], [4]
    expect(await Promise.all(answers)).toEqual([{ value: 10 }, { value: 20 }, { error: refused.message }, { value: 40 }]);
    expect(w.batches).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
  });

  it('the database unreachable fails the whole batch at once, without a write per item', async () => {
    const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const w = gatedWrite((items) => (items.length > 1 ? down : undefined));
    const b = new Batcher<number, number>(w.write, 10);
    const answers = [1, 2, 3].map((i) => settle(b.submit(i)));
    await w.release();
    await w.release();
    expect(await Promise.all(answers)).toEqual([{ value: 10 }, { error: down.message }, { error: down.message }]);
    expect(w.batches).toEqual([[1], [2, 3]]);
    // And it goes on with what arrives next.
    const later = b.submit(7);
    await w.release();
    expect(await later).toBe(70);
  });

  it('a batch whose writing code breaks on one item is written item by item too', async () => {
    const broken = new TypeError("Cannot read properties of undefined (reading 'labels')");
    const w = gatedWrite((items) => (items.includes(2) ? broken : undefined));
    const b = new Batcher<number, number>(w.write, 10);
    const answers = [1, 2, 3].map((i) => settle(b.submit(i)));
    for (let i = 0; i < 4; i++) await w.release(); // [1], [2, 3] broken, then [2], [3]
    expect(await Promise.all(answers)).toEqual([{ value: 10 }, { error: broken.message }, { value: 30 }]);
  });

  it('tells a database it cannot reach from one that refuses or code that breaks', () => {
    expect(databaseUnreachable({ code: 'ECONNREFUSED' })).toBe(true);
    expect(databaseUnreachable({ code: 'ETIMEDOUT' })).toBe(true);
    expect(databaseUnreachable({ code: '57P01' })).toBe(true);
    expect(databaseUnreachable({ code: '08006' })).toBe(true);
    expect(databaseUnreachable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(databaseUnreachable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(databaseUnreachable({ code: '23505' })).toBe(false);
    expect(databaseUnreachable({ code: '40P01' })).toBe(false);
    expect(databaseUnreachable(new TypeError('x is undefined'))).toBe(false);
    expect(databaseUnreachable(null)).toBe(false);
  });
});
