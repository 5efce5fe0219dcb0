import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { expect } from 'expect';
import { backupName, freeName, namingPattern, withSuffix } from '../../src/modules/backups/backup-files';
import { DumpScanner } from '../../src/modules/backups/dump-scanner';
import { ParallelGzip } from '../../src/modules/backups/parallel-gzip';

const DUMP = [
  '--',
  '-- PostgreSQL database dump',
  '--',
  'SET statement_timeout = 0;',
  'COPY public.products (id, name) FROM stdin;',
  '1\tbolt',
  '2\tnut \\. not an end',
  '3\twasher',
  '\\.',
  '',
  'COPY public."Weird ""Name""" (id) FROM stdin;',
  '\\.',
  '',
  'CREATE FUNCTION f() RETURNS void AS $$',
  'COPY x FROM stdin',
  '$$ LANGUAGE sql;',
  'COPY public.moves (id) FROM stdin;',
  ...Array.from({ length: 1000 }, (_, i) => String(i)),
  '\\.',
  '',
  '--',
  '-- PostgreSQL database dump complete',
  '--',
  '',
  '\\unrestrict abc',
  '',
].join('\n');

function scan(text: string, chunk: number): DumpScanner {
  const scanner = new DumpScanner();
  const buffer = Buffer.from(text);
  for (let i = 0; i < buffer.length; i += chunk) scanner.write(buffer.subarray(i, i + chunk));
  return scanner;
}

describe('dump scanner', () => {
  it('counts COPY rows per table and sees the completion marker, whatever the chunking', () => {
    for (const chunk of [1, 2, 3, 7, 64, 4096, 1 << 20]) {
      const s = scan(DUMP, chunk);
      expect([chunk, s.rowCounts]).toEqual([chunk, { 'public.products': 3, 'public."Weird ""Name"""': 0, 'public.moves': 1000 }]);
      expect(s.complete()).toBe(true);
      expect(s.bytes).toBe(Buffer.byteLength(DUMP));
    }
  });

  it('a dump cut in the middle of a COPY block is not complete and names the table', () => {
    const cut = DUMP.slice(0, DUMP.indexOf('500\n'));
    const s = scan(cut, 100);
    expect(s.complete()).toBe(false);
    expect(s.unterminatedCopy).toBe('public.moves');
    expect(scan(DUMP.replace('-- PostgreSQL database dump complete', '-- something else'), 50).complete()).toBe(false);
  });
});

describe('parallel gzip', () => {
  it('writes concatenated gzip members that gunzip and zcat read back exactly', async () => {
    const input = Buffer.from(Array.from({ length: 200_000 }, (_, i) => `${i}\tline ${i % 97}\n`).join(''));
    const chunks: Buffer[] = [];
    const seen: number[] = [];
    const gzip = new ParallelGzip({ level: 6, blockSize: 64 * 1024, concurrency: 3, onInput: (c) => seen.push(c.length) });
    await pipeline(
      Readable.from(
        (function* () {
          for (let i = 0; i < input.length; i += 10_000) yield input.subarray(i, i + 10_000);
        })(),
      ),
      gzip,
      new Writable({ write: (c, _e, cb) => (chunks.push(c), cb()) }),
    );
    const output = Buffer.concat(chunks);
    // More than one member (each starts with the gzip magic 1f 8b 08).
    let members = 0;
    for (let i = output.indexOf(Buffer.from([0x1f, 0x8b, 0x08])); i >= 0; i = output.indexOf(Buffer.from([0x1f, 0x8b, 0x08]), i + 1))
      members++;
    expect(members).toBeGreaterThan(10);
    expect(gunzipSync(output).equals(input)).toBe(true);
    expect(seen.reduce((a, b) => a + b, 0)).toBe(input.length);
    expect(gzip.inputBytes).toBe(input.length);
    expect(gzip.outputBytes).toBe(output.length);
    const dir = mkdtempSync(join(tmpdir(), 'pgz-'));
    try {
      writeFileSync(join(dir, 'x.gz'), output);
      expect(execFileSync('zcat', [join(dir, 'x.gz')], { maxBuffer: 64 << 20 }).equals(input)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an empty input is still a valid gzip file', async () => {
    const chunks: Buffer[] = [];
    await pipeline(
      Readable.from([]),
      new ParallelGzip({ level: 1, concurrency: 2 }),
      new Writable({ write: (c, _e, cb) => (chunks.push(c), cb()) }),
    );
    expect(gunzipSync(Buffer.concat(chunks)).length).toBe(0);
  });
});

describe('backup file names', () => {
  it('follows the inventory naming in its time zone', () => {
    const at = new Date('2026-01-19T19:30:00Z');
    expect(backupName('erp_backup_{YYYY}-{MM}-{DD}_{HH}00.sql.gz', at, 'Asia/Jakarta')).toBe('erp_backup_2026-01-20_0200.sql.gz');
    expect(backupName('erp_backup_{YYYY}{MM}{DD}_{HH}{mm}{ss}.sql.gz', at, 'UTC')).toBe('erp_backup_20260119_193000.sql.gz');
  });

  it('adds a suffix instead of overwriting, and recognises suffixed names as backups', async () => {
    expect(withSuffix('erp_backup_2026-01-20_0200.sql.gz', 2)).toBe('erp_backup_2026-01-20_0200_2.sql.gz');
    const dir = mkdtempSync(join(tmpdir(), 'names-'));
    try {
      writeFileSync(join(dir, 'a.sql.gz'), '');
      expect(await freeName(dir, 'a.sql.gz', new Set())).toBe('a_2.sql.gz');
      expect(await freeName(dir, 'a.sql.gz', new Set(['a_2.sql.gz']))).toBe('a_3.sql.gz');
      expect(await freeName(dir, 'b.sql.gz', new Set())).toBe('b.sql.gz');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const pattern = namingPattern('erp_backup_{YYYY}-{MM}-{DD}_{HH}00.sql.gz');
    expect(pattern.test('erp_backup_2026-01-20_0200.sql.gz')).toBe(true);
    expect(pattern.test('erp_backup_2026-01-20_0200_3.sql.gz')).toBe(true);
    expect(pattern.test('erp_backup_2026-01-20.sql.gz')).toBe(false);
    expect(pattern.test('notes.txt')).toBe(false);
  });
});
