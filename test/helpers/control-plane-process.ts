import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from '../../src/common/paths';

/** Starts test/helpers/control-plane-child.js (the control plane in its own process) and waits for its `{ url }` line. */
export function startControlPlaneProcess(given: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  // Its own master key, anchor file and spool unless the caller shares them (never the checkout's).
  const state = mkdtempSync(join(tmpdir(), 'ops-child-'));
  const env = {
    OPS_MASTER_KEY: randomBytes(32).toString('base64url'),
    OPS_AUDIT_ANCHOR_FILE: join(state, 'audit-anchors.jsonl'),
    OPS_AUDIT_SPOOL_DIR: join(state, 'audit-spool'),
    ...given,
  };
  const child = spawn(process.execPath, [join(projectRoot(), 'dist/test/helpers/control-plane-child.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.once('exit', () => rmSync(state, { recursive: true, force: true }));
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the child did not start in 30 s: ${stderr}`)), 30_000);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve({ child, url: JSON.parse(line).url });
    });
    child.once('exit', (code) => reject(new Error(`the child exited (${code}): ${stderr}`)));
  });
}
