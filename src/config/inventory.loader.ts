import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { load as parseYaml } from 'js-yaml';
import { z } from 'zod';
import { MASK, maskUrl } from '../common/secrets';
import { Inventory, inventorySchema } from './inventory.schema';

export class InventoryError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`Invalid inventory ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InventoryError';
  }
}

export interface LoadedInventory {
  file: string;
  inventory: Inventory;
}

/** Which file to read: OPS_INVENTORY, else ops.yaml, else the committed ops.example.yaml. */
export function inventoryPath(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (env.OPS_INVENTORY) return resolve(cwd, env.OPS_INVENTORY);
  const local = resolve(cwd, 'ops.yaml');
  return existsSync(local) ? local : resolve(cwd, 'ops.example.yaml');
}

export const URL_KEYS = [
  'backendHealth',
  'backend',
  'prometheus',
  'alertmanager',
  'elasticsearch',
  'grafana',
  'kibana',
  'logstash',
] as const;

export function envName(key: string): string {
  return `OPS_URL_${key.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

/** Environment variables override secrets and URLs. */
export function applyEnvOverrides(raw: Record<string, any>, env: NodeJS.ProcessEnv): Record<string, any> {
  const doc = structuredClone(raw ?? {});
  const set = (path: string[], value: string | undefined) => {
    if (value === undefined || value === '') return;
    let node = doc;
    for (const part of path.slice(0, -1)) {
      if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
      node = node[part];
    }
    node[path[path.length - 1]] = value;
  };
  set(['erpDatabase', 'url'], env.ERP_DATABASE_URL);
  set(['erpRedis', 'url'], env.ERP_REDIS_URL);
  set(['apiCheck', 'token'], env.ERP_API_TOKEN);
  set(['stack', 'dockerHost'], env.DOCKER_HOST);
  set(['notifications', 'smtpUrl'], env.OPS_SMTP_URL);
  set(['notifications', 'chatWebhookUrl'], env.OPS_CHAT_WEBHOOK_URL);
  for (const key of URL_KEYS) set(['urls', key], env[envName(key)]);
  return doc;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = typeof value === 'string' ? (/:\/\//.test(value) ? maskUrl(value) : value) : JSON.stringify(value);
  return `got ${JSON.stringify(text).slice(0, 80)}`;
}

function valueAt(doc: unknown, path: PropertyKey[]): unknown {
  let node: any = doc;
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = node[part as any];
  }
  return node;
}

/** Turns zod issues into "key: problem (got …)" lines an operator can act on. */
export function formatProblems(error: z.ZodError, doc: unknown): string[] {
  return error.issues.map((issue) => {
    const key = issue.path.length ? issue.path.map(String).join('.') : '(root)';
    if (issue.code === 'unrecognized_keys') {
      return `${key === '(root)' ? '' : key + ': '}unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; see ops.example.yaml for the allowed keys`;
    }
    let message = issue.message;
    if (issue.code === 'invalid_type' && valueAt(doc, issue.path) === undefined) message = `is required: ${message}`;
    return `${key}: ${message} (${describeValue(valueAt(doc, issue.path))})`;
  });
}

export function parseInventory(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Inventory {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new InventoryError(file, [`not valid YAML: ${(error as Error).message.split('\n')[0]}`]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InventoryError(file, ['(root): must be a mapping of keys such as stack, erpDatabase, urls; see ops.example.yaml']);
  }
  const doc = applyEnvOverrides(raw as Record<string, any>, env);
  const result = inventorySchema.safeParse(doc);
  if (!result.success) throw new InventoryError(file, formatProblems(result.error, doc));
  return result.data;
}

export function loadInventory(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LoadedInventory {
  const file = inventoryPath(env, cwd);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InventoryError(file, [
      `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; set OPS_INVENTORY to the inventory file, for example OPS_INVENTORY=/etc/erp-ops/ops.yaml`,
    ]);
  }
  return { file, inventory: parseInventory(text, file, env) };
}

/** The inventory as it may be shown to a client: every secret masked. */
export function maskInventory(inventory: Inventory): Inventory {
  const copy = structuredClone(inventory);
  copy.erpDatabase.url = maskUrl(copy.erpDatabase.url);
  copy.erpRedis.url = maskUrl(copy.erpRedis.url);
  if (copy.apiCheck.token) copy.apiCheck.token = MASK;
  copy.notifications.smtpUrl = maskUrl(copy.notifications.smtpUrl);
  if (copy.notifications.chatWebhookUrl) copy.notifications.chatWebhookUrl = maskUrl(copy.notifications.chatWebhookUrl, { maskPath: true });
  for (const key of URL_KEYS) copy.urls[key] = maskUrl(copy.urls[key]);
  return copy;
}
