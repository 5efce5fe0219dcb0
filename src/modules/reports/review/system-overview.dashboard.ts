/**
 * Dashboard 1, System Overview: CPU and memory of the stack's containers (docker stats),
 * against the dashboard's own targets (thresholds.overview*: < 50 / 70 / 80 %, not the hourly 70 / 80 / 85),
 * disk usage of the data paths on the ERP host (its node exporter), network I/O and load
 * (Prometheus's node-exporter series over the window).
 */
import { ContainerStats } from '../../../integrations/contracts';
import { bandVerdict, describeFailure } from '../../health/public';
import {
  Base,
  dashboard,
  diskReadings,
  failed,
  metric,
  NOT_NOW,
  promNumber,
  range,
  ReviewDashboard,
  ReviewInputs,
  ReviewMetric,
  round,
  unknown,
} from './review-metric';

const NO_NODE = 'Prometheus has no node-exporter series (node_*): no node exporter is scraped';
const NET_SELECTOR = '{device!~"lo|veth.*|docker.*|br-.*"}';

function bases(input: ReviewInputs) {
  const t = input.inventory.thresholds;
  const containers = input.inventory.stack.services.length;
  const source = `docker stats of the stack's ${containers} containers`;
  const w = range(input.window);
  const netQuery = `sum(rate(node_network_receive_bytes_total${NET_SELECTOR}[${w}])) + sum(rate(node_network_transmit_bytes_total${NET_SELECTOR}[${w}]))`;
  const loadQuery = `avg(avg_over_time(node_load1[${w}]))`;
  const percent = (band: { warn: number; fail: number }, used = '') => `< ${band.fail} %${used} (warn at ${band.warn} %)`;
  return {
    cpu: { metric: 'cpu', title: 'CPU usage', unit: '%', target: percent(t.overviewCpuPercent), source } as Base,
    memory: { metric: 'memory', title: 'Memory usage', unit: '%', target: percent(t.overviewMemoryPercent), source } as Base,
    disk: {
      metric: 'disk',
      title: 'Disk usage',
      unit: '%',
      target: percent(t.overviewDiskPercent, ' used'),
      source: `the ERP host's node exporter (${input.inventory.stack.nodeExporterUrl}) for stack.dataPaths (${input.inventory.stack.dataPaths.join(', ')})`,
    } as Base,
    network: {
      metric: 'network',
      title: 'Network I/O',
      unit: 'bytes/s',
      target: 'normal throughput visible (> 0)',
      source: `Prometheus: ${netQuery}`,
    } as Base,
    load: {
      metric: 'load',
      title: 'Load average (1 min, mean over the window)',
      unit: '',
      target: 'correlates with the user count (informational)',
      source: `Prometheus: ${loadQuery}`,
    } as Base,
    netQuery,
    loadQuery,
  };
}

type Bases = ReturnType<typeof bases>;

/** CPU and memory summed over the containers that answered (docker stats of now). */
async function containerMetrics(input: ReviewInputs, b: Bases): Promise<ReviewMetric[]> {
  if (!input.current) return [unknown(b.cpu, NOT_NOW), unknown(b.memory, NOT_NOW)];
  const t = input.inventory.thresholds;
  const containers = input.inventory.stack.services.map((s) => s.container);
  const results = await Promise.allSettled(containers.map((c) => input.docker.stats(c, { timeoutMs: input.timeoutMs })));
  const known = results.filter((r): r is PromiseFulfilledResult<ContainerStats> => r.status === 'fulfilled').map((r) => r.value);
  if (known.length === 0) {
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const why = rejected ? `Docker engine: ${describeFailure(rejected.reason).observed}` : 'no containers in the inventory';
    return [unknown(b.cpu, why), unknown(b.memory, why)];
  }
  const partial = known.length < containers.length ? ` (${known.length} of ${containers.length} containers answered)` : '';
  const cpu = known.reduce((sum, s) => sum + s.cpuPercent, 0);
  const memory = known.reduce((sum, s) => sum + s.memoryBytes, 0);
  const limit = Math.max(...known.map((s) => s.memoryLimitBytes));
  const memPercent = limit > 0 ? (memory / limit) * 100 : 0;
  const memObserved = `${round(memPercent, 1)} % (${Math.round(memory / 2 ** 20)} MiB of ${Math.round(limit / 2 ** 20)} MiB)${partial}`;
  return [
    metric(b.cpu, bandVerdict(cpu, t.overviewCpuPercent), cpu, `${round(cpu, 1)} % of the machine${partial}`),
    metric(b.memory, bandVerdict(memPercent, t.overviewMemoryPercent), memPercent, memObserved),
  ];
}

/** The fullest of the data paths' file systems on the ERP host. */
async function diskMetric(input: ReviewInputs, base: Base): Promise<ReviewMetric> {
  if (!input.current) return unknown(base, NOT_NOW);
  try {
    const readings = await diskReadings(input);
    const fullest = readings.reduce((a, b) => (b.usedPercent > a.usedPercent ? b : a));
    const paths = readings.map((r) => ({
      path: r.path,
      mountpoint: r.mountpoint,
      usedPercent: r.usedPercent,
      freeGb: round(r.freeBytes / 1e9, 1),
    }));
    return metric(
      base,
      bandVerdict(fullest.usedPercent, input.inventory.thresholds.overviewDiskPercent),
      fullest.usedPercent,
      `${round(fullest.usedPercent, 1)} % used on ${fullest.path}`,
      { paths },
    );
  } catch (error) {
    return unknown(base, `cannot read from the ERP host's node exporter: ${describeFailure(error).observed}`);
  }
}

/** One node-exporter figure from Prometheus, judged by `judge`; unknown when no node exporter is scraped. */
async function nodeMetric(
  input: ReviewInputs,
  base: Base,
  promql: string,
  judge: (v: number) => ReviewMetric,
  extraWhy: string,
): Promise<ReviewMetric> {
  try {
    const value = await promNumber(input, promql);
    return value === undefined ? unknown(base, `${NO_NODE}; ${extraWhy}`) : judge(value);
  } catch (error) {
    return failed(base, error, 'Prometheus');
  }
}

export async function systemOverview(input: ReviewInputs): Promise<ReviewDashboard> {
  const b = bases(input);
  const [cpuMem, disk, network, load] = await Promise.all([
    containerMetrics(input, b),
    diskMetric(input, b.disk),
    nodeMetric(
      input,
      b.network,
      b.netQuery,
      (v) =>
        metric(b.network, v > 0 ? 'pass' : 'warn', v, v > 0 ? `${round(v / 1e6, 3)} MB/s in and out (mean over the window)` : 'no traffic'),
      "the stack's containers use the host network, so docker stats has no network counters for them",
    ),
    nodeMetric(input, b.load, b.loadQuery, (v) => metric(b.load, 'pass', v, `${round(v, 2)}`), 'the Docker engine reports no load average'),
  ]);
  return dashboard('system-overview', 'System Overview', [...cpuMem, disk, network, load]);
}
