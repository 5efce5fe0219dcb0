import { readFileSync } from 'node:fs';

/**
 * Synchronous clean-ups run when the test process exits however it exits (a failed hook, a
 * --test-force-exit): servers a test started are stopped by their PID, not left behind.
 */
const cleanups = new Set<() => void>();
let installed = false;

export function onExit(cleanup: () => void): () => void {
  if (!installed) {
    installed = true;
    process.on('exit', () => {
      for (const fn of cleanups) {
        try {
          fn();
        } catch {
          // best effort
        }
      }
    });
  }
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** True while `pid` runs (a zombie, exited but not yet reaped by a busy parent, does not count). */
export function running(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Sleeps synchronously (for clean-ups while the process exits). */
export function pauseSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
