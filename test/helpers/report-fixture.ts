/**
 * A small hand-made performance report document (schemaVersion 1) for the renderer's tests:
 * three days, the middle one a gap (no metrics: nulls, coverage 0), a hostile endpoint name
 * and a label holding a comma and a quote.
 */
export const HOSTILE_ENDPOINT = '/api/<script>alert(1)</script>';
export const COMMA_QUOTE_ENDPOINT = '/api/items,"special"';

const gap = { from: '2026-01-13T17:00:00.000Z', to: '2026-01-14T17:00:00.000Z', missingSamples: 1440 };

export function sampleReport(): Record<string, any> {
  const days = ['2026-01-13', '2026-01-14', '2026-01-15'];
  const weekdayHour = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].map((weekday, w) => ({
    weekday,
    hours: Array.from({ length: 24 }, (_, h) => (w === 1 || w === 3 ? (h >= 8 && h < 17 ? 100 + h * 10 : 5) : 0)),
  }));
  return {
    id: '00000000-0000-4000-8000-000000000001',
    kind: 'performance',
    schemaVersion: 1,
    title: 'ERP performance report 2026-01-13 to 2026-01-15 (Asia/Jakarta)',
    generatedAt: '2026-01-16T02:00:00.000Z',
    generatedBy: 'token:admin-panel',
    durationMs: 120,
    period: {
      startDate: '2026-01-13',
      endDate: '2026-01-15',
      timeZone: 'Asia/Jakarta',
      start: '2026-01-12T17:00:00.000Z',
      end: '2026-01-15T17:00:00.000Z',
      evaluatedUntil: '2026-01-15T17:00:00.000Z',
      days: 3,
      complete: true,
    },
    include: ['response_times', 'error_rates', 'usage_patterns'],
    targets: { apiP95Seconds: 1, errorRatePercent: 1 },
    source: {
      prometheus: 'http://127.0.0.1:19090',
      stepSeconds: 3600,
      coverageStepSeconds: 60,
      expectedSamplesPerCoverageStep: 4,
      evaluatedUntil: '2026-01-15T17:00:00.000Z',
      queries: [],
    },
    dataCoverage: {
      ratio: 0.6667,
      expectedSamples: 4320,
      presentSamples: 2880,
      gaps: [gap],
      days: [
        { date: days[0], coverage: 1, expectedSamples: 1440, presentSamples: 1440 },
        { date: days[1], coverage: 0, expectedSamples: 1440, presentSamples: 0 },
        { date: days[2], coverage: 1, expectedSamples: 1440, presentSamples: 1440 },
      ],
    },
    summary: {
      requests: 4000,
      p95Seconds: 0.82,
      p95TargetMet: true,
      errorRatePercent: 1.5,
      errorRateTargetMet: false,
      dataCoverage: 0.6667,
      gaps: 1,
      notes: [
        'No metrics at all for 2026-01-14: those days are left out, not counted as zero.',
        '1 gap(s) in the data (see dataCoverage.gaps).',
      ],
    },
    sections: {
      response_times: {
        computedFrom: [],
        target: { p95Seconds: 1, met: true, hoursAboveTarget: 1 },
        overall: { requests: 4000, p50Seconds: 0.12, p95Seconds: 0.82, p99Seconds: 1.9 },
        days: [
          {
            date: days[0],
            coverage: 1,
            requests: 2500,
            p50Seconds: 0.11,
            p95Seconds: 0.7,
            p99Seconds: 1.2,
            meetsTarget: true,
            worstHour: { start: '2026-01-13T03:00:00.000Z', local: '2026-01-13 10:00', p95Seconds: 1.4 },
            gaps: [],
          },
          {
            date: days[1],
            coverage: 0,
            requests: null,
            p50Seconds: null,
            p95Seconds: null,
            p99Seconds: null,
            meetsTarget: null,
            worstHour: null,
            gaps: [gap],
          },
          {
            date: days[2],
            coverage: 1,
            requests: 1500,
            p50Seconds: 0.13,
            p95Seconds: 0.9,
            p99Seconds: 2.1,
            meetsTarget: true,
            worstHour: { start: '2026-01-15T04:00:00.000Z', local: '2026-01-15 11:00', p95Seconds: 0.95 },
            gaps: [],
          },
        ],
        hoursAboveTarget: [{ start: '2026-01-13T03:00:00.000Z', local: '2026-01-13 10:00', p95Seconds: 1.4, requests: 200 }],
        slowestEndpoints: [
          {
            method: 'GET',
            endpoint: HOSTILE_ENDPOINT,
            requests: 100,
            p50Seconds: 0.5,
            p95Seconds: 1.8,
            worstDay: { date: days[0], p95Seconds: 1.9 },
          },
          {
            method: 'POST',
            endpoint: COMMA_QUOTE_ENDPOINT,
            requests: 300,
            p50Seconds: 0.2,
            p95Seconds: 0.6,
            worstDay: { date: days[2], p95Seconds: 0.7 },
          },
        ],
        dataCoverage: { ratio: 0.6667, gaps: [gap] },
      },
      error_rates: {
        computedFrom: [],
        target: { maxPercent: 1, met: false, daysAboveTarget: [days[2]] },
        overall: { requests: 4000, errors5xx: 60, ratePercent: 1.5 },
        days: [
          {
            date: days[0],
            coverage: 1,
            requests: 2500,
            errors5xx: 10,
            ratePercent: 0.4,
            meetsTarget: true,
            worstHour: { local: '2026-01-13 10:00', ratePercent: 2 },
            gaps: [],
          },
          {
            date: days[1],
            coverage: 0,
            requests: null,
            errors5xx: null,
            ratePercent: null,
            meetsTarget: null,
            worstHour: null,
            gaps: [gap],
          },
          {
            date: days[2],
            coverage: 1,
            requests: 1500,
            errors5xx: 50,
            ratePercent: 3.3333,
            meetsTarget: false,
            worstHour: { local: '2026-01-15 11:00', ratePercent: 12 },
            gaps: [],
          },
        ],
        endpoints: [
          {
            method: 'POST',
            endpoint: COMMA_QUOTE_ENDPOINT,
            requests: 300,
            errors5xx: 40,
            ratePercent: 13.3333,
            worstDay: { date: days[2], ratePercent: 20, errors5xx: 30 },
          },
        ],
        errorTypes: [
          {
            errorType: 'server_error',
            count: 60,
            days: [
              { date: days[0], count: 10 },
              { date: days[1], count: null },
              { date: days[2], count: 50 },
            ],
          },
        ],
        dataCoverage: { ratio: 0.6667, gaps: [gap] },
      },
      usage_patterns: {
        computedFrom: [],
        timeZone: 'Asia/Jakarta',
        totalRequests: 4000,
        days: [
          { date: days[0], coverage: 1, requests: 2500, gaps: [] },
          { date: days[1], coverage: 0, requests: null, gaps: [gap] },
          { date: days[2], coverage: 1, requests: 1500, gaps: [] },
        ],
        weekdayHour,
        peakHour: { start: '2026-01-13T09:00:00.000Z', local: '2026-01-13 16:00', requests: 250 },
        peakWeekdayHour: { weekday: 'Tue', hour: 16, requests: 260 },
        topEndpoints: [
          { method: 'GET', endpoint: '/api/v1/orders', requests: 2000, sharePercent: 50 },
          { method: 'POST', endpoint: COMMA_QUOTE_ENDPOINT, requests: 300, sharePercent: 7.5 },
          { method: 'GET', endpoint: HOSTILE_ENDPOINT, requests: 100, sharePercent: 2.5 },
        ],
        methods: [
          { method: 'GET', requests: 3700, sharePercent: 92.5 },
          { method: 'POST', requests: 300, sharePercent: 7.5 },
        ],
        dataCoverage: { ratio: 0.6667, gaps: [gap] },
      },
    },
  };
}
