'use strict';
// Stand-in of Kibana: GET /api/status with status.overall.level. The unhealthy switch takes
// a level: "degraded" answers 200, "unavailable" (or true) and "critical" answer 503.
const { startStandin, sendJson } = require('./lib/standin');

const SUMMARY = {
  available: 'All services and plugins are available',
  degraded: '1 service is degraded: elasticsearch',
  unavailable: '1 service is unavailable: elasticsearch',
  critical: 'Kibana is in a critical state',
};
startStandin({
  name: 'kibana',
  port: Number(process.env.PORT || 15601),
  healthPaths: ['/api/status'],
  health: (req, res, { faults }) => {
    const u = faults.unhealthy;
    const level = !u ? 'available' : typeof u === 'string' && SUMMARY[u] ? u : 'unavailable';
    const status = level === 'available' || level === 'degraded' ? 200 : 503;
    const es = { level: level === 'available' ? 'available' : level, summary: SUMMARY[level] };
    sendJson(res, status, {
      name: 'erp-kibana',
      uuid: '5b2de169-2785-441b-ae8c-186a1936b17d',
      version: { number: '8.11.3', build_hash: 'erp-stack', build_number: 68312, build_snapshot: false },
      status: {
        overall: { level, summary: SUMMARY[level] },
        core: { elasticsearch: es, savedObjects: { level: 'available', summary: 'SavedObjects service has completed migrations and is available' } },
        plugins: {},
      },
      metrics: { last_updated: new Date().toISOString(), collection_interval_in_millis: 5000 },
    });
  },
  handle: () => false,
});
