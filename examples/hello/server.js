// The web process: answers on $PORT, as every Slipway web process must.
const http = require('node:http');
const fs = require('node:fs');

const port = Number(process.env.PORT || 5000);
const build = JSON.parse(fs.readFileSync('build/info.json', 'utf8'));

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(
    [
      `Hello from ${process.env.APP} on Slipway!`,
      `container: ${process.env.CONTAINER}`,
      `version:   ${process.env.CONTAINER_VERSION}`,
      `stack:     ${process.env.STACK}`,
      `built at:  ${build.builtAt}`,
      '',
    ].join('\n'),
  );
});

server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
// Slipway stops old containers with SIGTERM once traffic has moved to the new ones.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
