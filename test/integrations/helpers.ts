/**
 * Helpers of the integration adapter tests: the stand-in stack's inventory, a server that
 * accepts connections and never answers, a port nothing listens on, and assertions on the
 * typed failures. The tests run against the real stand-in stack (scripts/stack/ensure.sh).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { expect } from 'expect';
import { parseInventory } from '../../src/config/inventory.loader';
import { Inventory } from '../../src/config/inventory.schema';
import { IntegrationError, IntegrationFailure } from '../../src/integrations/integration-error';
import { REPO_ROOT } from '../stack/stack-helpers';

export { REPO_ROOT };
export const STACK_PASSWORD = 'erp-stack-dev';

/** stack/ops.stack.yaml, parsed without environment overrides. */
export function stackInventory(): Inventory {
  const file = path.join(REPO_ROOT, 'stack/ops.stack.yaml');
  return parseInventory(fs.readFileSync(file, 'utf8'), file, {});
}

/** A TCP server on 127.0.0.1 that accepts every connection and never writes a byte. */
export async function startHangingServer(): Promise<{ port: number; url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A 127.0.0.1 port that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Awaits a call that must fail with an IntegrationError of the given kind; returns it. */
export async function failure(promise: Promise<unknown>, kind: IntegrationFailure, system?: string): Promise<IntegrationError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(IntegrationError);
  const error = caught as IntegrationError;
  if (error.failure !== kind) throw new Error(`expected failure ${kind}, got ${error.failure}: ${error.message}`);
  if (system) expect(error.system).toBe(system);
  expect(error.message).not.toContain(STACK_PASSWORD);
  return error;
}

/** Runs a call that must fail with `timeout`, no later than timeoutMs + 1000 ms. */
export async function timesOut(call: (timeoutMs: number) => Promise<unknown>, timeoutMs = 300, system?: string): Promise<IntegrationError> {
  const started = Date.now();
  const error = await failure(call(timeoutMs), 'timeout', system);
  const took = Date.now() - started;
  expect(took).toBeLessThan(timeoutMs + 1000);
  return error;
}
