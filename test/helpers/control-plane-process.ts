import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from '../../src/common/paths';

/** The child's `{ url, pid }` line (not a pino log line, which also has a pid). */
function urlLine(line: string): string | undefined {
  try {
    const parsed = JSON.parse(line) as { url?: string; pid?: number; level?: unknown };
    return parsed.url && parsed.pid && parsed.level === undefined ? parsed.url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts test/helpers/control-plane-child.js (the control plane in its own process) and waits
 * for its `{ url }` line. With `logFile`, its output (the JSON log) goes straight to that file,
 * as a log collector would take it, without passing through this process.
 */
export function startControlPlaneProcess(
  given: NodeJS.ProcessEnv,
  options: { logFile?: string; startMs?: number; nodeArgs?: string[] } = {},
): Promise<{ child: ChildProcess; url: string }> {
  const startMs = options.startMs ?? 30_000;
  // Its own master key, anchor file and spool unless the caller shares them (never the checkout's).
  const state = mkdtempSync(join(tmpdir(), 'ops-child-'));
  const env = {
    OPS_MASTER_KEY: randomBytes(32).toString('base64url'),
    OPS_AUDIT_ANCHOR_FILE: join(state, 'audit-anchors.jsonl'),
    OPS_AUDIT_SPOOL_DIR: join(state, 'audit-spool'),
    ...given,
  };
  if (options.logFile) {
    const fd = openSync(options.logFile, 'a');
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(projectRoot(), 'dist/test/helpers/control-plane-child.js')], {
      env,
      stdio: ['ignore', fd, fd],
    });
    child.once('exit', () => rmSync(state, { recursive: true, force: true }));
    closeSync(fd);
    const file = options.logFile;
    return new Promise((resolve, reject) => {
      const until = Date.now() + startMs;
      const look = () => {
        const url = readFileSync(file, 'utf8').split('\n').map(urlLine).find(Boolean);
        if (url) return resolve({ child, url });
        if (child.exitCode !== null) return reject(new Error(`the child exited (${child.exitCode}); see ${file}`));
        if (Date.now() > until) return reject(new Error(`the child did not start in ${startMs / 1000} s; see ${file}`));
        setTimeout(look, 50);
      };
      look();
    });
  }
  const child = spawn(process.execPath, [join(projectRoot(), 'dist/test/helpers/control-plane-child.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.once('exit', () => rmSync(state, { recursive: true, force: true }));
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the child did not start in ${startMs / 1000} s: ${stderr}`)), startMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const url = urlLine(line);
      if (!url) return;
      clearTimeout(timer);
      resolve({ child, url });
    });
    child.once('exit', (code) => reject(new Error(`the child exited (${code}): ${stderr}`)));
  });
}
