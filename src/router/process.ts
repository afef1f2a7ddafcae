import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { certificatesToServe, loadDefaultCertificate } from '../certs/serving.js';
import { CertificateStore } from '../certs/store.js';
import { readRoutingSnapshot } from '../store/routing.js';
import { AccessBatcher, type AccessOptions } from './access.js';
import { onMessages, sendMessage } from './channel.js';
import { RouterInstance } from './instance.js';
import type { RouterReply, RouterReport, RouterRequest } from './messages.js';
import { removeRouterPid, routerPidFile, routerSocket, runningRouter, writeRouterPid } from './pidfile.js';
import { RouterWorkers } from './workers.js';

export interface RouterProcessOptions {
  dataDir: string;
  port: number;
  host: string;
  domain: string;
  /** A TLS proxy in front sets X-Forwarded-Proto (see RouterOptions). */
  tlsInFront: boolean;
  /** The HTTPS port, where the router terminates TLS; none when undefined. */
  httpsPort: number | undefined;
  /** The server-wide default certificate's files (config tls.cert, tls.key). */
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** Processes accepting on the router port, this one included (0 or 1: this one alone). */
  processes: number;
  /** How long a replaced or stopping router waits for its connections' last requests. */
  drainMs: number;
  /** Access logs and request metrics on (sent to the server in batches), or undefined: off. */
  access?: AccessOptions;
  log: (line: string) => void;
}

/** Another router already serves the data directory; the message says how to replace it. */
export class RouterRunningError extends Error {
  constructor(dataDir: string, pid: number) {
    super(
      `a router already serves ${dataDir} (pid ${pid}); to replace it without dropping a request run "kill -HUP ${pid}" (systemctl reload slipway-router), or stop it first`,
    );
    this.name = 'RouterRunningError';
  }
}

/** The environment variable that tells a router it was started to take over from its parent. */
const HANDOVER = 'SLIPWAY_ROUTER_HANDOVER';
const RECONNECT_MS = 250;

/** Messages between a router and the successor it starts (with the listening socket). */
type HandoverMessage = { type: 'handover'; tls: boolean } | { type: 'handover-tls' } | { type: 'taken' };

/**
 * The router as its own long-lived process: serves the last recorded routes at once, follows
 * the server over its channel (and keeps serving when the server goes), and hands its listening
 * socket to a successor on SIGHUP. Resolves when the process should exit.
 */
export async function runRouterProcess(options: RouterProcessOptions): Promise<void> {
  const { dataDir, log } = options;
  const handingOver = process.env[HANDOVER] === '1' && process.send !== undefined;
  delete process.env[HANDOVER];
  if (!handingOver) {
    const other = runningRouter(dataDir);
    if (other !== undefined && other !== process.pid) throw new RouterRunningError(dataDir, other);
  }

  // Signals from the start (SIGHUP would otherwise end the process); acted on once it serves.
  const signals: ('stop' | 'replace')[] = [];
  let onSignal = (how: 'stop' | 'replace'): void => void signals.push(how);
  process.on('SIGTERM', () => onSignal('stop'));
  process.on('SIGINT', () => onSignal('stop'));
  process.on('SIGHUP', () => onSignal('replace'));

  // The channel exists before anything that reports through it; it connects further down.
  const channel: ServerChannel = new ServerChannel(routerSocket(dataDir), log, async (command) => {
    await Promise.all([instance.apply(command), workers.apply(command)]);
  });
  const report = (traffic: RouterReport['traffic']): void => channel.report({ type: 'requests', traffic });
  const access = options.access === undefined ? undefined : new AccessBatcher(report, options.access.keepQuery, options.access.lines);
  const instance = new RouterInstance({ domain: options.domain, tlsInFront: options.tlsInFront, httpsPort: options.httpsPort, log, access });
  const started = Date.now();
  const snapshot = readRoutingSnapshot(path.join(dataDir, 'slipway.db'));
  // Certificates are served from the start too, from the same files the server keeps.
  const certificates = certificatesToServe(new CertificateStore(dataDir).list(), loadDefaultCertificate(options.tlsCert, options.tlsKey));
  await instance.apply({ type: 'state', ...snapshot, certificates, challenges: [], followed: [] });
  const workers = new RouterWorkers(
    options.domain,
    options.tlsInFront,
    options.httpsPort,
    () => instance.state(),
    log,
    options.access === undefined ? undefined : { options: options.access, report },
  );
  if (handingOver) {
    const socket = handoverSocket();
    // The router being replaced keeps serving meanwhile: take the server's latest state (the
    // recorded routes may lag a switch in progress) before taking connections, if a server runs.
    channel.connect();
    await Promise.race([channel.synced, new Promise((resolve) => setTimeout(resolve, 2000))]);
    const handles = await socket;
    await instance.listenOn(handles.http);
    if (handles.https !== undefined) await instance.listenTls(handles.https);
    else if (options.httpsPort !== undefined) await instance.listenTls({ port: options.httpsPort, host: options.host });
  } else {
    // A fresh start serves the recorded routes at once; the server's state follows.
    await instance.listen(options.port, options.host);
    if (options.httpsPort !== undefined) await instance.listenTls({ port: options.httpsPort, host: options.host });
    channel.connect();
  }
  writeRouterPid(dataDir, process.pid);
  log(
    `router ${process.pid} serving ${snapshot.routes.length} app(s) on ${options.host}:${options.port}${options.httpsPort === undefined ? '' : ` and HTTPS on ${options.httpsPort} (${certificates.length} certificate(s))`} after ${Date.now() - started} ms (pid in ${routerPidFile(dataDir)})`,
  );
  if (handingOver) {
    process.send!({ type: 'taken' } satisfies HandoverMessage);
    process.disconnect();
  }

  // Node has no API for a listening socket's descriptor; the handle is what child_process sends.
  const socketHandle = (instance.server as unknown as { _handle: object })._handle;
  const tlsHandle = (instance.secureServer as unknown as { _handle: object } | undefined)?._handle;
  // Each worker starts from this router's state at the time, then gets the commands after it.
  await workers.start(Math.max(0, options.processes - 1), socketHandle, tlsHandle);

  await new Promise<void>((resolve) => {
    let leaving = false;
    const leave = async (how: 'stop' | 'replace'): Promise<void> => {
      if (leaving) return;
      leaving = true;
      if (how === 'replace') {
        try {
          await startSuccessor(socketHandle, tlsHandle, log);
        } catch (error) {
          log(`the new router did not take over (${(error as Error).message}); this one keeps serving`);
          leaving = false;
          return;
        }
      }
      // What is measured from here on is not sent: the server follows the successor (if any) alone.
      access?.close();
      channel.close();
      log(`router ${process.pid} ${how === 'replace' ? 'handed over; finishing its connections' : 'stopping'}`);
      await Promise.all([instance.retire(options.drainMs), workers.retire(options.drainMs)]);
      removeRouterPid(dataDir, process.pid);
      resolve();
    };
    onSignal = (how) => void leave(how);
    for (const how of signals.splice(0)) onSignal(how);
  });
}

/** The listening sockets from the router this one replaces: HTTP, then HTTPS if it had one. */
function handoverSocket(): Promise<{ http: object; https: object | undefined }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the router being replaced sent no socket within 30 s')), 30_000);
    let http: object | undefined;
    const onMessage = (message: HandoverMessage, handle: object | undefined): void => {
      if (message.type === 'handover' && handle && http === undefined) {
        http = handle;
        // The HTTPS port's socket follows in a message of its own.
        if (!message.tls) done(undefined);
        return;
      }
      if (message.type === 'handover-tls' && handle && http !== undefined) {
        done(handle);
        return;
      }
      clearTimeout(timer);
      process.off('message', onMessage);
      reject(new Error('the router being replaced sent no socket'));
    };
    let settled = false;
    const done = (https: object | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      process.off('message', onMessage);
      resolve({ http: http!, https });
    };
    process.on('message', onMessage);
  });
}

/**
 * Starts a new router process from the code on disk now (an upgrade), gives it the listening
 * socket, and resolves once it serves. It runs on its own: this process can exit.
 */
async function startSuccessor(socketHandle: object, tlsHandle: object | undefined, log: (line: string) => void): Promise<void> {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [HANDOVER]: '1' },
  });
  log(`router ${process.pid} starting router ${child.pid} to take over`);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer within 30 s')), 30_000);
      child.once('exit', (code) => reject(new Error(`it exited with code ${code}`)));
      child.on('message', (message: HandoverMessage) => {
        if (message.type !== 'taken') return;
        clearTimeout(timer);
        resolve();
      });
      child.send({ type: 'handover', tls: tlsHandle !== undefined } satisfies HandoverMessage, socketHandle as Parameters<typeof child.send>[1]);
      if (tlsHandle !== undefined) child.send({ type: 'handover-tls' } satisfies HandoverMessage, tlsHandle as Parameters<typeof child.send>[1]);
    });
  } catch (error) {
    child.kill();
    throw error;
  }
  child.removeAllListeners();
  child.unref();
}

/** The router's end of the server's channel: applies each command, answers it, reconnects when lost. */
class ServerChannel {
  private socket: net.Socket | undefined;
  private closed = false;
  private wasConnected = false;
  private timer: NodeJS.Timeout | undefined;
  private onSynced!: () => void;
  /** Settles when the first whole state from a server has been applied. */
  readonly synced = new Promise<void>((resolve) => (this.onSynced = resolve));

  constructor(
    private readonly socketPath: string,
    private readonly log: (line: string) => void,
    private readonly apply: (command: RouterRequest) => Promise<void>,
  ) {}

  connect(): void {
    if (this.closed) return;
    const socket = net.connect(this.socketPath);
    this.socket = socket;
    socket.on('connect', () => {
      this.wasConnected = true;
      this.log('router: following the server');
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (this.closed) return;
      if (this.wasConnected) this.log('router: lost the server; serving the last routes until it is back');
      this.wasConnected = false;
      this.timer = setTimeout(() => this.connect(), RECONNECT_MS);
    });
    // Each command is dispatched as it arrives, so they reach this router and its workers in
    // order; a drain that waits does not hold back the commands after it.
    onMessages<RouterRequest>(
      socket,
      (request) => {
        this.apply(request).then(
          () => {
            if (request.type === 'state') this.onSynced();
            sendMessage(socket, { type: 'done', id: request.id } satisfies RouterReply);
          },
          (error: unknown) => sendMessage(socket, { type: 'failed', id: request.id, message: String(error) } satisfies RouterReply),
        );
      },
      (line) => this.log(`router: unreadable message from the server ${JSON.stringify(line.slice(0, 100))}`),
    );
  }

  /**
   * Sends records to the server when one is connected; else they are dropped (the server keeps
   * what it was sent; a router never waits for it).
   */
  report(message: RouterReport): void {
    if (this.socket !== undefined && this.wasConnected) sendMessage(this.socket, message);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket?.destroy();
  }
}
