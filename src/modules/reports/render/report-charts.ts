/**
 * The performance report's charts, rendered on the server: Apache ECharts' server-side SVG
 * renderer (no DOM, no animation), and PNG copies through resvg for mail clients that do not
 * show inline SVG. Pure functions of the stored report document.
 */
import { Resvg } from '@resvg/resvg-js';
import * as echarts from 'echarts';
import type { ReportDocument } from './report-csv';

export interface ReportChart {
  /** Stable name: latency, error_rate, weekday_hour, top_endpoints. */
  id: string;
  title: string;
  /** What the chart shows, as text (the img alt and the figure caption). */
  description: string;
  svg: string;
  width: number;
  height: number;
}

const FONT = 'DejaVu Sans, Arial, Helvetica, sans-serif';
const WIDTH = 860;
const COLORS = ['#2f6db5', '#e08a1e', '#b8322c', '#3a9a5b', '#7a52b3'];

function render(option: Record<string, unknown>, width: number, height: number): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({ animation: false, color: COLORS, textStyle: { fontFamily: FONT }, backgroundColor: '#ffffff', ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

const noData = (days: any[]) =>
  days.filter((d) => d.coverage === 0 || d.coverage === null).map((d) => [{ xAxis: d.date }, { xAxis: d.date }]);
const noDataArea = (days: any[]) => ({
  silent: true,
  itemStyle: { color: 'rgba(120,120,120,0.15)' },
  label: { show: true, position: 'insideTop', color: '#666', fontSize: 10, formatter: 'no data' },
  data: noData(days),
});

/** The value axis' top: the data's, and always above the target so that its line is drawn. */
const withTarget = (target: number | undefined) => (extent: { max: number }) =>
  target === undefined ? extent.max : Math.max(extent.max, target * 1.15);

function latencyChart(rt: any): ReportChart {
  const days: any[] = rt.days ?? [];
  const target = rt.target?.p95Seconds;
  const line = (name: string, key: string) => ({ name, type: 'line', data: days.map((d) => d[key]), connectNulls: false, symbolSize: 6 });
  const svg = render(
    {
      title: { text: 'Response time percentiles per day (seconds)', left: 10, top: 6, textStyle: { fontSize: 14 } },
      legend: { top: 8, right: 10, data: ['p50', 'p95', 'p99'] },
      grid: { left: 60, right: 30, top: 50, bottom: 40 },
      xAxis: { type: 'category', data: days.map((d) => d.date) },
      yAxis: { type: 'value', name: 's', max: withTarget(target) },
      series: [
        line('p50', 'p50Seconds'),
        line('p95', 'p95Seconds'),
        {
          ...line('p99', 'p99Seconds'),
          markLine:
            target === undefined
              ? undefined
              : {
                  silent: true,
                  symbol: 'none',
                  lineStyle: { color: '#b8322c', type: 'dashed', width: 2 },
                  label: { formatter: `target p95 < ${target} s`, position: 'insideEndTop' },
                  data: [{ yAxis: target }],
                },
        },
        // The no-data band on an empty bar series (last: the lines keep their colours): a bar series' mark area spans whole days.
        { name: 'no data', type: 'bar', data: [], silent: true, markArea: noDataArea(days) },
      ],
    },
    WIDTH,
    320,
  );
  return {
    id: 'latency',
    title: 'Latency percentiles per day',
    description: `p50, p95 and p99 response time per day, with the ${String(target)} s p95 target line`,
    svg,
    width: WIDTH,
    height: 320,
  };
}

function errorRateChart(er: any): ReportChart {
  const days: any[] = er.days ?? [];
  const target = er.target?.maxPercent;
  const svg = render(
    {
      title: { text: 'Error rate per day (5xx, %)', left: 10, top: 6, textStyle: { fontSize: 14 } },
      grid: { left: 60, right: 30, top: 50, bottom: 40 },
      xAxis: { type: 'category', data: days.map((d) => d.date) },
      yAxis: { type: 'value', name: '%', max: withTarget(target) },
      series: [
        {
          name: 'error rate',
          type: 'bar',
          barMaxWidth: 40,
          data: days.map((d) =>
            d.ratePercent === null || d.ratePercent === undefined
              ? null
              : { value: d.ratePercent, itemStyle: { color: d.meetsTarget === false ? '#b8322c' : '#2f6db5' } },
          ),
          markArea: noDataArea(days),
          markLine:
            target === undefined
              ? undefined
              : {
                  silent: true,
                  symbol: 'none',
                  lineStyle: { color: '#b8322c', type: 'dashed', width: 2 },
                  label: { formatter: `target < ${target} %`, position: 'insideEndTop' },
                  data: [{ yAxis: target }],
                },
        },
      ],
    },
    WIDTH,
    300,
  );
  return {
    id: 'error_rate',
    title: 'Error rate per day',
    description: `share of 5xx responses per day, with the ${String(target)} % target line`,
    svg,
    width: WIDTH,
    height: 300,
  };
}

function heatMapChart(us: any): ReportChart {
  const rows: any[] = us.weekdayHour ?? [];
  const data: [number, number, number][] = [];
  let max = 0;
  rows.forEach((w, y) =>
    (w.hours as number[]).forEach((v, x) => {
      data.push([x, y, v]);
      max = Math.max(max, v);
    }),
  );
  const svg = render(
    {
      title: { text: `Requests by weekday and hour (${String(us.timeZone ?? '')})`, left: 10, top: 6, textStyle: { fontSize: 14 } },
      grid: { left: 60, right: 30, top: 45, bottom: 80 },
      xAxis: { type: 'category', data: Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0')), splitArea: { show: true } },
      yAxis: { type: 'category', data: rows.map((w) => w.weekday), inverse: true, splitArea: { show: true } },
      visualMap: {
        min: 0,
        max: max || 1,
        calculable: false,
        orient: 'horizontal',
        left: 'center',
        bottom: 10,
        itemHeight: 200,
        inRange: { color: ['#f4f7fb', '#9ec3e6', '#2f6db5', '#0b2e59'] },
      },
      series: [{ name: 'requests', type: 'heatmap', data, label: { show: false } }],
    },
    WIDTH,
    340,
  );
  return {
    id: 'weekday_hour',
    title: 'Weekday × hour heat map',
    description: 'requests per weekday and hour of the day, summed over the period',
    svg,
    width: WIDTH,
    height: 340,
  };
}

function topEndpointsChart(us: any): ReportChart {
  const top: any[] = us.topEndpoints ?? [];
  const height = Math.max(200, 60 + top.length * 28);
  const label = (e: any) => {
    const text = `${String(e.method)} ${String(e.endpoint)}`;
    return text.length > 48 ? `${text.slice(0, 47)}…` : text;
  };
  const svg = render(
    {
      title: { text: 'Top endpoints by requests', left: 10, top: 6, textStyle: { fontSize: 14 } },
      grid: { left: 300, right: 60, top: 40, bottom: 30 },
      xAxis: { type: 'value' },
      yAxis: { type: 'category', inverse: true, data: top.map(label), axisLabel: { width: 280, overflow: 'truncate' } },
      series: [
        { name: 'requests', type: 'bar', barMaxWidth: 22, data: top.map((e) => e.requests), label: { show: true, position: 'right' } },
      ],
    },
    WIDTH,
    height,
  );
  return {
    id: 'top_endpoints',
    title: 'Top endpoints',
    description: `the ${top.length} endpoints with the most requests`,
    svg,
    width: WIDTH,
    height,
  };
}

/** The charts the report's sections allow, in reading order. */
export function renderReportCharts(report: ReportDocument): ReportChart[] {
  const s = report.sections ?? {};
  const charts: ReportChart[] = [];
  if (s.response_times) charts.push(latencyChart(s.response_times));
  if (s.error_rates) charts.push(errorRateChart(s.error_rates));
  if (s.usage_patterns) charts.push(heatMapChart(s.usage_patterns), topEndpointsChart(s.usage_patterns));
  return charts;
}

/** An SVG as PNG, `scale` times its size (2: sharp on high-density screens). */
export function svgToPng(svg: string, width: number, scale = 2): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'width', value: Math.round(width * scale) },
    background: '#ffffff',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}
