'use strict';
// Stand-in of Grafana: GET /api/health ({"database":"ok"}; 503 "failing" when unhealthy).
const { startStandin, sendJson } = require('./lib/standin');

const VERSION = { commit: 'erp-stack', version: '10.2.3' };
startStandin({
  name: 'grafana',
  port: Number(process.env.PORT || 13000),
  healthPaths: ['/api/health'],
  health: (req, res, { faults }) =>
    faults.unhealthy ? sendJson(res, 503, { ...VERSION, database: 'failing' }) : sendJson(res, 200, { ...VERSION, database: 'ok' }),
  handle: (req, res, { pathname }) => {
    if (pathname === '/' || pathname === '/login') return sendJson(res, 200, { message: 'Grafana stand-in of the ERP stack' });
    return false;
  },
});
