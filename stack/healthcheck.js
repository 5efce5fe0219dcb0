'use strict';
// Docker healthcheck of the HTTP stand-ins: exit 0 when GET <url> answers 2xx within the
// timeout (default 2000 ms), 1 otherwise. Usage: node /stack/healthcheck.js URL [TIMEOUT_MS]
const http = require('node:http');

const [url, timeoutArg] = process.argv.slice(2);
const timeout = Number(timeoutArg || 2000);
const fail = (why) => {
  process.stderr.write(`unhealthy: ${why}\n`);
  process.exit(1);
};
const req = http.get(url, { timeout }, (res) => {
  res.resume();
  if (res.statusCode >= 200 && res.statusCode < 300) process.exit(0);
  fail(`HTTP ${res.statusCode}`);
});
req.on('timeout', () => fail(`no answer within ${timeout} ms`));
req.on('error', (err) => fail(err.message));
