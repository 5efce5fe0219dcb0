import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { projectRoot } from '../../src/common/paths';
import { parseInventory } from '../../src/config/inventory.loader';
import { restartSeverity } from '../../src/modules/remediations/procedures/service-restart';
import { onlyNonCriticalDown, suggestionFor } from '../../src/modules/health/service-suggestion';

const file = join(projectRoot(), 'ops.example.yaml');
const inventory = parseInventory(readFileSync(file, 'utf8'), file, {});
const down = (...names: string[]) => names.map((n) => ({ check: `service:${n}` }));

describe('which procedure a service that is down suggests', () => {
  it('one service down is restarted alone, critical or not; the backend has its own procedure', () => {
    expect(suggestionFor({ check: 'service:kibana' }, down('kibana'), inventory)).toBe('service.restart');
    expect(suggestionFor({ check: 'service:redis' }, down('redis'), inventory)).toBe('service.restart');
    expect(suggestionFor({ check: 'service:backend' }, down('backend'), inventory)).toBe('backend.crash-loop');
  });

  it('several non-critical services down are restarted one by one; more than one critical service down is an outage', () => {
    expect(suggestionFor({ check: 'service:kibana' }, down('kibana', 'grafana', 'logstash'), inventory)).toBe('service.restart');
    expect(suggestionFor({ check: 'service:kibana' }, down('kibana', 'postgres'), inventory)).toBe('service.restart');
    expect(suggestionFor({ check: 'service:redis' }, down('redis', 'postgres'), inventory)).toBe('emergency.outage');
    expect(suggestionFor({ check: 'service:kibana' }, down('kibana', 'redis', 'nginx'), inventory)).toBe('emergency.outage');
  });

  it('other checks keep their own suggestion', () => {
    expect(suggestionFor({ check: 'db:connections' }, [], inventory)).toBe('db.connection-pool-exhausted');
    expect(suggestionFor({ check: 'host:identity' }, [], inventory)).toBeUndefined();
  });

  it('service.restart is P3 for the services the inventory marks non-critical, P2 for the others', () => {
    const levels = Object.fromEntries(inventory.stack.services.map((s) => [s.name, restartSeverity(inventory, s.name)]));
    expect(levels).toEqual({
      postgres: 'P2',
      redis: 'P2',
      backend: 'P2',
      nginx: 'P2',
      prometheus: 'P3',
      grafana: 'P3',
      alertmanager: 'P3',
      elasticsearch: 'P3',
      logstash: 'P3',
      kibana: 'P3',
    });
  });

  it('only non-critical services down make the "services" item a P3 matter; one critical service among them keeps it P1', () => {
    expect(onlyNonCriticalDown(down('kibana'), inventory)).toBe(true);
    expect(onlyNonCriticalDown(down('kibana', 'grafana', 'logstash'), inventory)).toBe(true);
    expect(onlyNonCriticalDown(down('kibana', 'redis'), inventory)).toBe(false);
    expect(onlyNonCriticalDown(down('nginx'), inventory)).toBe(false);
    // A service the inventory does not know, or no failing check at all: not "only non-critical".
    expect(onlyNonCriticalDown(down('mystery'), inventory)).toBe(false);
    expect(onlyNonCriticalDown([], inventory)).toBe(false);
  });
});
