/**
 * A router worker process: one of several sharing the router port (Node's cluster), each a
 * full reverse proxy whose routing table the server keeps in step over IPC.
 */
import type { FromWorker, ToWorker } from './messages.js';
import { DirectoryView } from './directory.js';
import { Router } from './proxy.js';

const directory = new DirectoryView();
let router: Router | undefined;

function reply(message: FromWorker): void {
  process.send?.(message);
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'listen':
      router = new Router({
        domain: message.domain,
        appExists: directory.appExists,
        appForCustomDomain: directory.appForCustomDomain,
        inMaintenance: directory.inMaintenance,
        upstreamTimeoutMs: message.upstreamTimeoutMs,
        tlsInFront: message.tlsInFront,
      });
      await router.listen(message.port, message.host);
      return;
    case 'route':
      router?.table.set(message.app, message.deployment, message.targets);
      return;
    case 'directory':
      directory.apply(message.directory, router?.table);
      return;
    case 'drain':
      await router?.drain(message.targets, message.timeoutMs);
      return;
    case 'take-out':
      router?.takeOut(message.target);
      return;
    case 'close':
      await router?.close();
      reply({ type: 'done', id: message.id });
      process.exit(0);
  }
}

process.on('message', (message: ToWorker) => {
  handle(message).then(
    () => reply({ type: 'done', id: message.id }),
    (error: unknown) => reply({ type: 'failed', id: message.id, message: error instanceof Error ? error.message : String(error) }),
  );
});
// The server going away takes its router workers with it.
process.on('disconnect', () => process.exit(0));
// Messages that arrive before a listener exists are dropped: say when this one is listening.
reply({ type: 'ready' });
