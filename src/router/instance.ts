import net from 'node:net';
import tls from 'node:tls';
import { CertificateView } from './certificates.js';
import type { Directory } from './handle.js';
import { ChallengeView } from './challenges.js';
import { DirectoryView } from './directory.js';
import type { CertificateMessage, RouterCommand } from './messages.js';
import { Router, type RouterOptions } from './proxy.js';

/** The router's settings (its directory is its own). */
export type InstanceOptions = Pick<RouterOptions, 'domain' | 'upstreamTimeoutMs' | 'tlsInFront' | 'log' | 'httpsPort' | 'access'>;

/** A TLS handshake must be done within this time. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * One router: the proxy and its copy of the directory, changed only through `apply`. The router
 * process and each of its workers hold one; they all take the same commands.
 */
export class RouterInstance {
  private readonly directory = new DirectoryView();
  private readonly challenges = new ChallengeView();
  private readonly certificates: CertificateView;
  /** The HTTPS port's TLS server (it does not listen: `tcpServer` hands it each admitted connection). */
  private tlsServer: tls.Server | undefined;
  /**
   * The HTTPS port's listening server: counts each connection against its address's cap before
   * the TLS handshake (Node's TLS server would only let the router see it after).
   */
  private tcpServer: net.Server | undefined;
  private readonly router: Router;
  /** Apps whose every access line is wanted (the server says which). */
  private followed: string[] = [];

  private readonly log: (line: string) => void;

  constructor(private readonly options: InstanceOptions) {
    this.log = options.log ?? ((line) => console.error(line));
    this.certificates = new CertificateView(this.log);
    this.router = new Router({
      ...options,
      appExists: this.directory.appExists,
      appForCustomDomain: this.directory.appForCustomDomain,
      inMaintenance: this.directory.inMaintenance,
      challenge: this.challenges.answer,
      forceHttps: this.directory.redirectsToHttps,
      hsts: this.directory.sendsHsts,
    });
  }

  /** The listening server, to hand its socket to workers or to a successor. */
  get server(): net.Server {
    return this.router.server;
  }

  listen(port: number, host: string): Promise<void> {
    return this.router.listen(port, host);
  }

  /** The HTTPS port's listening server, once listening (to hand its socket on). */
  get secureServer(): net.Server | undefined {
    return this.tcpServer;
  }

  /** Terminates TLS on `port` (or on a listening socket another process opened). */
  listenTls(where: { port: number; host: string } | object): Promise<void> {
    const server = this.makeTlsServer();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      const listening = (): void => {
        server.off('error', reject);
        server.on('error', (error) => this.log(`router: ${error.message}`));
        resolve();
      };
      if ('port' in where && typeof where.port === 'number') server.listen(where.port, (where as { host: string }).host, listening);
      else server.listen(where, listening);
    });
  }

  /** Accepts connections on a listening socket another process opened. */
  listenOn(handle: object): Promise<void> {
    return new Promise((resolve, reject) => {
      this.router.server.once('error', reject);
      this.router.server.listen(handle, () => {
        this.router.server.off('error', reject);
        resolve();
      });
    });
  }

  async apply(command: RouterCommand): Promise<void> {
    switch (command.type) {
      case 'state':
        this.applyDirectory(command.directory);
        for (const route of command.routes) this.router.switchTo(route.app, route.deployment, route.targets);
        this.applyCertificates(command.certificates);
        this.challenges.apply(command.challenges);
        this.follow(command.followed);
        return;
      case 'route':
        this.router.switchTo(command.app, command.deployment, command.targets);
        return;
      case 'directory':
        this.applyDirectory(command.directory);
        return;
      case 'drain':
        await this.router.drain(command.targets, command.timeoutMs);
        return;
      case 'take-out':
        this.router.takeOut(command.target);
        return;
      case 'certificates':
        this.applyCertificates(command.certificates);
        return;
      case 'challenges':
        this.challenges.apply(command.challenges);
        return;
      case 'follow':
        this.follow(command.apps);
        return;
      case 'send-lines':
        this.options.access?.flush();
        return;
    }
  }

  /** Everything this router knows, as one command (for a worker that starts). */
  state(): RouterCommand {
    return {
      type: 'state',
      directory: this.directory.current(),
      routes: this.router.table.entries(),
      certificates: this.certificates.current(),
      challenges: this.challenges.current(),
      followed: this.followed,
    };
  }

  /** Stops accepting and ends once its connections have (see Router.retire). */
  retire(timeoutMs: number): Promise<void> {
    this.tcpServer?.close();
    return this.router.retire(timeoutMs);
  }

  close(): Promise<void> {
    this.tcpServer?.close();
    return this.router.close();
  }

  private follow(apps: string[]): void {
    this.followed = apps;
    this.options.access?.follow(apps);
  }

  private applyCertificates(certificates: CertificateMessage[]): void {
    this.certificates.apply(certificates);
    // Clients that send no SNI name get the default certificate (when there is one).
    const fallback = certificates.find((c) => c.default === true);
    if (fallback !== undefined && this.tlsServer !== undefined) this.tlsServer.setSecureContext({ cert: fallback.cert, key: fallback.key });
  }

  private makeTlsServer(): net.Server {
    const fallback = this.certificates.current().find((c) => c.default === true);
    const server = tls.createServer(
      {
        ...(fallback === undefined ? {} : { cert: fallback.cert, key: fallback.key }),
        // The certificate is chosen per handshake, from the latest set: a renewal needs no restart.
        SNICallback: (servername, done) => done(null, this.certificates.contextFor(servername)),
        ALPNProtocols: ['h2', 'http/1.1'],
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
        noDelay: true,
      },
      (socket) => this.router.acceptSecure(socket),
    );
    // A failed handshake (no certificate for the name, a scanner) only ends that connection.
    server.on('tlsClientError', (_error, socket) => socket.destroy());
    this.tlsServer = server;
    this.tcpServer = net.createServer({ noDelay: true }, (socket) => {
      if (this.router.admitSecure(socket)) server.emit('connection', socket);
    });
    return this.tcpServer;
  }

  /** The one place where the routes of apps that are gone are dropped. */
  private applyDirectory(directory: Directory): void {
    this.directory.apply(directory);
    this.router.keepApps(this.directory.appExists);
  }
}
