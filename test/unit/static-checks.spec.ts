import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { expect } from 'expect';

// The house rules, checked on every `npm test`: formatting (Prettier), lint and size limits
// (typescript-eslint, eslint.config.mjs) and the import layering (dependency-cruiser,
// .dependency-cruiser.cjs). A failure prints the tool's own report, naming file and rule.
const ROOT = resolve(__dirname, '..', '..', '..');
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

function run(tool: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(bin(tool), args, { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.slice(-8000) };
}

describe('static checks', () => {
  it('Prettier: every source file is formatted (npm run format fixes it)', () => {
    const r = run('prettier', ['--check', 'src', 'test', 'bench', 'scripts']);
    expect({ status: r.status, output: r.status === 0 ? '' : r.output }).toEqual({ status: 0, output: '' });
  });

  it('ESLint: no lint error, no function over 80 lines, no file over 400 lines in src/', () => {
    const r = run('eslint', ['--max-warnings', '0', 'src', 'test']);
    expect({ status: r.status, output: r.status === 0 ? '' : r.output }).toEqual({ status: 0, output: '' });
  });

  it('dependency-cruiser: every import follows the layering rules', () => {
    const r = run('depcruise', ['src', '--config', '.dependency-cruiser.cjs']);
    expect({ status: r.status, output: r.status === 0 ? '' : r.output }).toEqual({ status: 0, output: '' });
  });
});
