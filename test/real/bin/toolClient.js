'use strict';
// The fake `kind` and `docker` of the real-world tier: each invocation is answered by the harness
// (test/real/fakeTools.ts), which owns the kind cluster's API server and the CAPD containers. The
// harness's address is in REAL_WORLD_TOOLS (http://127.0.0.1:<port>/<token>).
const http = require('http');

module.exports = function run(tool) {
  const url = process.env.REAL_WORLD_TOOLS;
  if (!url) {
    process.stderr.write(`fake ${tool}: REAL_WORLD_TOOLS is not set (this fake only runs inside the real-world test tier)\n`);
    process.exit(99);
  }
  const body = JSON.stringify({
    tool,
    argv: process.argv.slice(2),
    cwd: process.cwd(),
    env: { KUBECONFIG: process.env.KUBECONFIG || '', HOME: process.env.HOME || '' },
  });
  const req = http.request(`${url}/${tool}`, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      const reply = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (reply.stdout) process.stdout.write(reply.stdout);
      if (reply.stderr) process.stderr.write(reply.stderr);
      process.exitCode = reply.code;
    });
  });
  req.on('error', (e) => {
    process.stderr.write(`fake ${tool}: the test harness does not answer at ${url}: ${e.message}\n`);
    process.exit(99);
  });
  req.end(body);
};
