/**
 * A router worker process: one of several accepting on the router's listening socket (which the
 * router process opened and sent along), each a full reverse proxy that the router process keeps
 * in step with the server's commands.
 */
import type { FromWorker, ToWorker } from './messages.js';
import { AccessBatcher } from './access.js';
import { RouterInstance } from './instance.js';

let instance: RouterInstance | undefined;
/** Settles once the worker accepts on the router's port. */
let listening: Promise<void> | undefined;
let access: AccessBatcher | undefined;
/** Commands that came before `listen`: the state the worker starts from. */
const early: ToWorker[] = [];

function reply(message: FromWorker): void {
  // The router process may be gone (then 'disconnect' ends this one).
  if (process.connected) process.send?.(message);
}

async function listen(message: Extract<ToWorker, { type: 'listen' }>, socket: object | undefined): Promise<void> {
  // Records go to the router process, which sends them on to the server with its own.
  access =
    message.access === undefined
      ? undefined
      : new AccessBatcher((traffic) => reply({ type: 'requests', traffic }), message.access.keepQuery, message.access.lines);
  const created = new RouterInstance({
    domain: message.domain,
    tlsInFront: message.tlsInFront,
    httpsPort: message.httpsPort,
    log: (line) => console.error(line),
    access,
  });
  // Commands that arrive while these apply are queued behind them, so none is lost.
  while (early.length > 0) {
    const command = early.shift()!;
    if (command.type !== 'listen' && command.type !== 'retire' && command.type !== 'listen-tls') await created.apply(command);
  }
  instance = created;
  if (!socket) throw new Error('the router process sent no listening socket');
  await created.listenOn(socket);
}

async function handle(message: ToWorker, socket: object | undefined): Promise<void> {
  switch (message.type) {
    case 'listen':
      // Set before the first await: 'listen-tls', right behind, waits for all of it.
      listening = listen(message, socket);
      await listening;
      return;
    case 'listen-tls':
      // Sent right after 'listen', whose handling may still be under way.
      await listening;
      if (!instance || !socket) throw new Error('the router process sent no HTTPS socket');
      await instance.listenTls(socket);
      return;
    case 'retire':
      await instance?.retire(message.timeoutMs);
      access?.close();
      reply({ type: 'done', id: message.id });
      process.exit(0);
      return;
    default:
      if (instance) await instance.apply(message);
      else early.push(message);
  }
}

process.on('message', (message: ToWorker, socket: object | undefined) => {
  handle(message, socket).then(
    () => reply({ type: 'done', id: message.id }),
    (error: unknown) => reply({ type: 'failed', id: message.id, message: error instanceof Error ? error.message : String(error) }),
  );
});
// The router process going away (killed) takes its workers with it; a new one starts its own.
process.on('disconnect', () => process.exit(0));
// Messages that arrive before a listener exists are dropped: say when this one is listening.
reply({ type: 'ready' });
