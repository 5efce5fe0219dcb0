'use strict';
// Stand-in of Logstash: a tcp json_lines input (PORT, 5000 in the real stack) that forwards
// each event to Elasticsearch as erp-<type>-YYYY.MM.dd, and the monitoring API
// (API_PORT, 9600 in the real stack): GET / and GET /_node/stats.
const net = require('node:net');
const http = require('node:http');
const { startStandin, sendJson, log } = require('./lib/standin');

const PORT = Number(process.env.PORT || 15000);
const API_PORT = Number(process.env.API_PORT || 19600);
const ES_URL = new URL(process.env.ES_URL || 'http://127.0.0.1:19200');
const HOST = process.env.LISTEN_HOST || '127.0.0.1';
const started = Date.now();
const events = { in: 0, filtered: 0, out: 0, duration_in_millis: 0 };
const KNOWN = ['backend', 'postgres', 'nginx', 'syslog'];

function indexFor(event) {
  const t = String(event.type || event.service || 'syslog').toLowerCase();
  const d = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return `erp-${KNOWN.includes(t) ? t : 'syslog'}-${d.getUTCFullYear()}.${pad(d.getUTCMonth() + 1)}.${pad(d.getUTCDate())}`;
}

function ship(event) {
  const t0 = Date.now();
  const body = JSON.stringify({ '@timestamp': new Date().toISOString(), ...event });
  const req = http.request(
    { host: ES_URL.hostname, port: ES_URL.port, method: 'POST', path: `/${indexFor(event)}/_doc`, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 5000 },
    (res) => {
      res.resume();
      events.out++;
      events.duration_in_millis += Date.now() - t0;
    },
  );
  req.on('timeout', () => req.destroy());
  req.on('error', (err) => log('logstash', 'ERROR', `could not ship event to elasticsearch: ${err.message}`));
  req.end(body);
}

const connections = new Set();
const input = net.createServer((sock) => {
  connections.add(sock);
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (!line) continue;
      events.in++;
      let event;
      try {
        event = JSON.parse(line);
      } catch {
        event = { message: line, tags: ['_jsonparsefailure'] };
      }
      events.filtered++;
      ship(event);
    }
  });
  sock.on('close', () => connections.delete(sock));
  sock.on('error', () => sock.destroy());
});

startStandin({
  name: 'logstash',
  port: API_PORT,
  healthPaths: ['/'],
  health: (req, res, { faults }) =>
    sendJson(res, 200, { host: 'erp-logstash', version: '8.11.3', http_address: `${HOST}:${API_PORT}`, id: 'b1f1e7c4-erp-logstash', name: 'erp-logstash', ephemeral_id: String(started), status: faults.unhealthy ? 'red' : 'green', snapshot: false, pipeline: { workers: 2, batch_size: 125, batch_delay: 50 } }),
  handle: (req, res, { pathname, faults }) => {
    if (pathname !== '/_node/stats') return false;
    const pipelineEvents = { ...events, queue_push_duration_in_millis: 0 };
    return sendJson(res, 200, {
      host: 'erp-logstash',
      version: '8.11.3',
      http_address: `${HOST}:${API_PORT}`,
      id: 'b1f1e7c4-erp-logstash',
      name: 'erp-logstash',
      status: faults.unhealthy ? 'red' : 'green',
      jvm: { uptime_in_millis: Date.now() - started, mem: { heap_used_percent: 23 } },
      process: { open_file_descriptors: 64, cpu: { percent: 1 } },
      events: pipelineEvents,
      pipelines: {
        main: {
          events: pipelineEvents,
          plugins: { inputs: [{ id: 'tcp-json', name: 'tcp', events: { out: events.in } }], outputs: [{ id: 'elasticsearch', name: 'elasticsearch', events: { in: events.filtered, out: events.out } }] },
          reloads: { successes: 0, failures: faults.unhealthy ? 1 : 0 },
        },
      },
      reloads: { successes: 0, failures: 0 },
    });
  },
  onStop: () => {
    input.close();
    for (const s of connections) s.destroy();
  },
});
input.listen(PORT, HOST, () => log('logstash', 'INFO', `tcp json input listening on ${HOST}:${PORT}`));
