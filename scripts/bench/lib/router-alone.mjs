// One router, as built in `dist` of the given checkout, alone in this process: it routes app.localhost
// to a container port given on the command line, listens on another, and prints "ready".
// Usage: node router-alone.mjs <checkout> <listen port> <upstream port>
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [checkout, listenPort, upstreamPort] = process.argv.slice(2);
const { Router } = await import(pathToFileURL(path.join(checkout, 'dist/router/proxy.js')).href);
const router = new Router({ domain: 'localhost', appExists: (app) => app === 'app', log: () => undefined });
await router.listen(Number(listenPort), '127.0.0.1');
router.switchTo('app', 1, [{ host: '127.0.0.1', port: Number(upstreamPort), container: 'web-1' }]);
process.stdout.write('ready\n');
process.on('SIGTERM', () => void router.close().then(() => process.exit(0)));
