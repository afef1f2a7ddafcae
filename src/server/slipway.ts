import { mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { DashboardFiles } from '../api/dashboard-files.js';
import { Api } from '../api/server.js';
import { Sessions } from '../api/sessions.js';
import { TokenAuth } from '../auth/tokens.js';
import { ImageBuilder } from '../build/builder.js';
import { NpmRegistry } from '../build/registry.js';
import { NodeToolchain } from '../build/toolchain.js';
import { Deployer } from '../deploy/deployer.js';
import { AppDestroyer } from '../deploy/destroyer.js';
import { AppContainers } from '../deploy/containers.js';
import { takeOutDeadWebContainers } from '../deploy/rotation.js';
import { followMovedTasks } from '../deploy/relocation.js';
import { Formation } from '../deploy/formation.js';
import { OneOffs } from '../run/oneoffs.js';
import { Pipeline } from '../deploy/pipeline.js';
import { Processes, type TrafficSwitch } from '../deploy/processes.js';
import { GitHttp } from '../git/http.js';
import { HookRelay } from '../git/relay.js';
import { ConnectionCap } from '../net/connection-cap.js';
import { CommitSource } from '../build/source.js';
import { Notifications } from '../notify/notifications.js';
import { cronReleaseCheck } from '../cron/release.js';
import { CronScheduler } from '../cron/scheduler.js';
import { HealthMonitor } from '../health/monitor.js';
import { AppMetrics } from '../metrics/app-metrics.js';
import { Repos } from '../git/repos.js';
import { RouterLink } from '../router/link.js';
import { routerSocket } from '../router/pidfile.js';
import { DockerRuntime } from '../runtime/docker.js';
import { PortAllocator } from '../runtime/ports.js';
import { SwarmRuntime } from '../runtime/swarm.js';
import type { Runtime } from '../runtime/runtime.js';
import { Store } from '../store/store.js';
import { loadAdminToken } from './admin-token.js';
import type { ServerConfig } from './config.js';
import { recover } from './recover.js';
import { certificatesToServe, loadDefaultCertificate } from '../certs/serving.js';
import { CertificateStore } from '../certs/store.js';
import { CertificateError, factsOf, parseChain } from '../certs/pem.js';
import { AcmeManager } from '../certs/acme-manager.js';
import { AcmeIssuer } from '../certs/acme-issuer.js';
import { ChallengeBoard } from '../certs/acme-challenges.js';
import { autoNames } from '../certs/acme-names.js';
import { autoCertificateStore } from '../certs/acme-store.js';
import { secureDataDir } from './data-modes.js';
import { ensureRouter } from './router-process.js';
import { storageProblem } from './storage.js';

/** The project's `hooks/` directory, next to `dist/` (or `src/`). */
const HOOKS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../hooks');
/** The dashboard's built files: `npm run build` puts them in dist/dashboard. */
const DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dashboard');

export interface RunningSlipway {
  apiUrl: string;
  routerUrl: string;
  adminToken: { token: string; generated: boolean; file: string | undefined };
  stop(): Promise<void>;
}

/** How long a starting server waits for its router to take the whole state before answering. */
const ROUTER_SYNC_MS = 3000;
/** How long a read of the access log waits for the routers to send the lines they hold. */
const SEND_LINES_WAIT_MS = 1000;

export interface SlipwayOptions {
  config: ServerConfig;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  runtime?: Runtime;
}

/** The composition root: builds every part, wires them together, starts and stops them. */
export async function startSlipway({ config, env, log, runtime = chooseRuntime(config) }: SlipwayOptions): Promise<RunningSlipway> {
  // A swarm that is none (a worker, an engine outside any swarm) is refused before anything starts.
  if (runtime.registry !== null) await runtime.ping();
  // Everything the server and its git processes create from now on is the server user's alone,
  // and what an earlier version or a loose umask left readable is made so before the database opens.
  process.umask(0o077);
  // Checked before anything starts: a bad tls.cert/tls.key is the operator's to fix (CertificateError).
  const defaultCertificate = loadDefaultCertificate(config.tlsCert, config.tlsKey);
  if (config.apiTls && defaultCertificate === undefined) {
    throw new CertificateError("apiTls needs the certificate for the server's own host name: set tls.cert and tls.key (SLIPWAY_TLS_CERT, SLIPWAY_TLS_KEY)");
  }
  const apiCertificate = config.apiTls ? defaultCertificate : undefined;
  // The router first: it serves the recorded routes on its own, so nothing below (which walks
  // every repository, or grows with the apps) delays them on a cold start. Awaited in startRouter.
  const routerStarted = ensureRouter(config, env, log).then(
    () => undefined,
    (error: unknown) => error,
  );
  for (const warning of secureDataDir(config.dataDir)) log(warning);
  // Temporary build files of deployments a crash interrupted go with them.
  const tmpDir = path.join(config.dataDir, 'tmp');
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  const adminToken = loadAdminToken(config.dataDir, env.SLIPWAY_ADMIN_TOKEN);
  const store = new Store(path.join(config.dataDir, 'slipway.db'));
  const auth = new TokenAuth(adminToken.token, store);
  const socketPath = path.join(config.dataDir, 'hooks.sock');
  const repos = new Repos(path.join(config.dataDir, 'repos'), HOOKS_DIR, socketPath, config.maxPushMb);
  const ports = new PortAllocator();
  const portSuffix = config.routerPort === 80 ? '' : `:${config.routerPort}`;
  const appUrl = (app: string): string => `http://${app}.${config.domain}${portSuffix}`;

  const router = new RouterLink(routerSocket(config.dataDir), log);
  const metrics = new AppMetrics({
    store: store.metrics,
    runtime,
    apps: () => store.listApps().map((app) => app.name),
    phases: (app, id) => store.listPhases(app, id),
    accessLogLines: config.accessLogLines,
    followed: (apps) => void router.follow(apps),
    sendLines: () => router.sendLines(SEND_LINES_WAIT_MS),
    historyHours: config.metricsHistoryHours,
    log,
  });
  router.onRequests((records) => metrics.onRequests(records));
  let directorySynced: Promise<void> = Promise.resolve();
  const syncDirectory = (): void => {
    const directory = store.directory();
    metrics.keepApps(directory.apps);
    directorySynced = router.setDirectory(directory).catch((error: unknown) => log(`router update failed: ${String(error)}`));
  };
  store.onDirectoryChange(syncDirectory);
  syncDirectory();
  const certificates = new CertificateStore(config.dataDir);
  // The whole set on every change (and to each router that connects: RouterLink keeps the last).
  let certificatesSynced: Promise<void> = Promise.resolve();
  const syncCertificates = (): void => {
    certificatesSynced = router
      .setCertificates(certificatesToServe(certificates.list(), defaultCertificate))
      .catch((error: unknown) => log(`router update failed: ${String(error)}`));
  };
  certificates.onChange(syncCertificates);
  syncCertificates();
  // A deleted app's certificates go with it.
  store.onDirectoryChange(() => {
    const apps = new Set(store.directory().apps);
    for (const app of new Set(certificates.list().map((c) => c.app))) if (!apps.has(app)) certificates.removeApp(app);
  });
  // Automatic certificates: orders run in the background, answered on the router's HTTP port.
  const challenges = new ChallengeBoard((set) => router.setChallenges(set));
  const acme = new AcmeManager({
    issuer: new AcmeIssuer({
      directoryUrl: config.acmeDirectory,
      email: config.acmeEmail,
      externalAccount:
        config.acmeEabKid === undefined || config.acmeEabHmacKey === undefined ? undefined : { kid: config.acmeEabKid, hmacKey: config.acmeEabHmacKey },
      accountKeyFile: path.join(config.dataDir, 'acme', 'account.key'),
      answer: (token, keyAuthorization, during) => challenges.answer(token, keyAuthorization, during),
    }),
    certificates: autoCertificateStore(certificates),
    failures: {
      get: (domain) => store.acme.failure(domain),
      put: (domain, f) => store.acme.recordFailure(domain, f),
      clear: (domain) => store.acme.clearFailure(domain),
    },
    enabledApps: () => store.acme.enabledApps(),
    namesOf: (app) =>
      autoNames(
        app,
        store.listDomains(app).map((d) => d.domain),
        config.domain,
      ),
    renewBeforeMs: config.acmeRenewBeforeMs,
    checkIntervalMs: config.acmeCheckMs,
    retryBaseMs: config.acmeRetryMs,
    log,
  });
  // A domain added to or removed from an app with certs:auto on (or the app deleted).
  store.onDirectoryChange(() => acme.reconcile());
  const containers = new AppContainers(store, stackName(config.stackImage), path.join(config.dataDir, 'volumes'));
  const traffic: TrafficSwitch = {
    switchTo: (app, deployment, targets) => router.switchTo(app, deployment, targets),
    drain: (targets, timeoutMs) => router.drain(targets, timeoutMs),
  };
  const processes = new Processes({ store, runtime, ports, containers, traffic, timeouts: config.timeouts, appHost: (app) => `${app}.${config.domain}` });
  const buildCache = config.buildCacheDir ?? path.join(config.dataDir, 'cache', 'build');
  const pipeline = new Pipeline({
    store,
    runtime,
    builder: new ImageBuilder({
      runtime,
      stackImage: config.stackImage,
      toolchain: new NodeToolchain(runtime, new NpmRegistry(config.npmRegistry, buildCache), config.stackImage, buildCache, tmpDir),
      npmRegistry: config.npmRegistry,
      tmpRoot: tmpDir,
    }),
    containers,
    ports,
    processes,
    traffic,
    refs: repos.publisher(),
    settings: { appUrl },
    checkRelease: cronReleaseCheck(store, { seconds: config.cronSeconds }),
  });
  // Deploys, scales and restarts wait for recovery: it must not take their new containers for strays.
  let recovered!: () => void;
  const deployer = new Deployer(
    store,
    pipeline,
    (error) => log(`deployment bookkeeping: ${String(error)}`),
    new Promise<void>((resolve) => (recovered = resolve)),
  );
  deployer.onEvent((event) => metrics.onDeployment(event));
  const destroyer = new AppDestroyer({
    store,
    runtime,
    deployer,
    containers,
    ports,
    removeRepository: (app) => repos.remove(app),
    stopMs: config.timeouts.stopMs,
  });
  const notifications = new Notifications({
    store,
    runtime,
    onDeployment: (listener) => deployer.onEvent(listener),
    commitSubject: async (app, commit) => (await new CommitSource(repos.pathFor(app), commit).info()).subject,
    appUrl,
    apiUrl: `${config.apiTls ? 'https' : 'http'}://${config.host}:${config.port}`,
    timeoutMs: config.timeouts.notifyMs,
    retryBaseMs: config.timeouts.notifyRetryMs,
    log,
  });
  const cron = new CronScheduler({
    store,
    runtime,
    containers,
    ports,
    onDeployment: (listener) => deployer.onEvent(listener),
    timeoutMs: config.timeouts.cronMs,
    stopGraceMs: (app) => processes.timeouts(app).stopMs,
    log,
  });
  const health = new HealthMonitor({
    routes: () => store.listCheckedRoutes(),
    routeOf: (app) => store.getRoute(app),
    check: (app) => processes.healthCheck(app),
    exclusive: (app, task) => deployer.exclusive(app, 'a health check', task),
    route: (app, deployment, targets) => traffic.switchTo(app, deployment, targets),
    outOfRotation: { load: () => store.listOutOfRotation(), save: (app, containers) => store.setOutOfRotation(app, containers) },
    log,
  });
  const formation = new Formation({ store, processes, traffic, gitDir: (app) => repos.pathFor(app) });
  const oneOffs = new OneOffs({ store, runtime, containers, ports, maxRunMs: config.timeouts.runMs, stopGraceMs: config.timeouts.stopMs });
  const sweepOneOffs = (): void =>
    oneOffs.sweepApps(
      store.listApps().map((app) => app.name),
      log,
    );
  const gitHttp = new GitHttp(
    repos,
    auth,
    store,
    async (app) => deployer.closedFor(app)?.message ?? storageProblem(config.dataDir, config.minFreeMb),
    config.timeouts.gitBodyMs,
  );
  const relay = new HookRelay(socketPath, repos, deployer, {
    pusherOf: (pid) => gitHttp.pusherOf(pid),
    stillValid: (identity) => auth.stillValid(identity),
    onError: (error) => log(`hook relay error: ${String(error)}`),
  });
  const api = new Api({
    store,
    auth,
    deployer,
    destroyer,
    repos,
    runtime,
    containers,
    ports,
    formation,
    oneOffs,
    notifications,
    cron,
    health,
    autoCerts: acme,
    metrics,
    appUrl,
    domain: config.domain,
    // The latest update: each one carries the whole directory, so it covers those before it.
    routersUpdated: () => directorySynced,
    certificates: {
      store: certificates,
      defaultCertificate: defaultCertificate === undefined ? undefined : factsOf(parseChain(defaultCertificate.cert)),
      updated: () => certificatesSynced,
      acmeError: (_app, domain) => acme.status(domain)?.lastError ?? undefined,
    },
    dashboard: {
      files: new DashboardFiles(DASHBOARD_DIR),
      sessions: new Sessions((id) => auth.stillValid(id)),
      secureCookies: config.tlsInFront || config.apiTls,
    },
  });

  await startRouter(router, store, routerStarted);
  acme.start();
  // Routes already serve: recovery runs behind them, whatever it finds and however many apps.
  recoverInBackground({ store, runtime, ports, refs: repos.publisher(), timeouts: config.timeouts }, log).finally(() => {
    recovered();
    // One-offs whose client was connected to the server that stopped: nobody can reach them.
    sweepOneOffs();
  });
  await repos.configureAll();

  const answer = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (gitHttp.handle(req, res) || api.handle(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('Slipway: nothing here. Push with git to /<app>.git, or use the API under /api.\n');
  };
  // apiTls: tokens never travel in clear text; the default certificate is the server's own.
  const http1: http.Server | https.Server = apiCertificate === undefined ? http.createServer(answer) : https.createServer(apiCertificate, answer);
  // A push waits for its whole deployment; the hook timeout bounds it, not Node's defaults.
  http1.requestTimeout = 0;
  http1.headersTimeout = 60_000;
  http1.timeout = 0;
  // One client cannot take every file descriptor (the router's port has the same cap).
  const cap = new ConnectionCap();
  http1.prependListener('connection', (socket: net.Socket) => void cap.admit(socket));
  // `slipway run` streams both ways over an HTTP Upgrade; nothing else upgrades.
  http1.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!api.upgrade(req, socket, head)) socket.destroy();
  });

  const stopWatching = takeOutDeadWebContainers({ runtime, store, takeOut: (target) => router.takeOut(target) });
  // Only a swarm moves containers between machines.
  const stopFollowing =
    runtime.registry === null
      ? () => undefined
      : followMovedTasks({ runtime, store, route: (app, deployment, targets) => traffic.switchTo(app, deployment, targets), log });

  // Detached one-offs that ran too long, or ended over an hour ago, without waiting for the next run.
  const sweeper = setInterval(sweepOneOffs, oneOffs.sweepEveryMs);
  sweeper.unref();

  notifications.start();
  health.start();
  metrics.start();
  await cron.start().catch((error: unknown) => log(`warning: could not start the cron jobs: ${String(error)}`));
  await relay.listen();
  await new Promise<void>((resolve, reject) => {
    http1.once('error', reject);
    http1.listen(config.port, config.host, () => resolve());
  });

  return {
    apiUrl: `${config.apiTls ? 'https' : 'http'}://${config.host}:${config.port}`,
    routerUrl: `http://${config.host}:${config.routerPort}`,
    adminToken,
    async stop() {
      stopWatching();
      stopFollowing();
      acme.stop();
      clearInterval(sweeper);
      cron.stop();
      health.stop();
      await metrics.stop();
      // Deployments end first (within a bounded grace), while git and the API still carry their
      // outcome to their clients. The router is its own process and serves the apps throughout.
      await deployer.stop(config.timeouts.stopMs);
      log('deployments ended; closing git, the API and the channel to the router (which keeps serving the apps)');
      // Upgraded connections are no longer the HTTP server's: the API ends them, and their one-offs.
      await api.close();
      // A push's verdict may still be on its way to its git client: answers in flight get a
      // moment to end (followers of container logs never do), idle connections go at once.
      const closed = new Promise<void>((resolve) => http1.close(() => resolve()));
      http1.closeIdleConnections();
      const cutOff = setTimeout(() => http1.closeAllConnections(), ANSWER_GRACE_MS);
      await closed;
      clearTimeout(cutOff);
      await relay.close();
      await notifications.stop();
      await router.close();
      store.close();
    },
  };
}

const ANSWER_GRACE_MS = 5000;

/**
 * Opens the channel the router process follows, with the last switched routes to give it, and
 * waits for the router process started (or found running: it may have outlived the previous
 * server) at the beginning; it connects within its reconnect interval.
 */
async function startRouter(router: RouterLink, store: Store, routerStarted: Promise<unknown>): Promise<void> {
  // As the router serves them: containers the health monitor took out stay out.
  for (const route of store.listServingRoutes()) void router.switchTo(route.app, route.deployment, route.targets);
  await router.listen();
  const failed = await routerStarted;
  if (failed !== undefined) throw failed;
  // The router that runs reconnects within a moment (250 ms); until it has the state, a change
  // the API acknowledged (forceHttps, maintenance) would not be served yet.
  await router.synced(ROUTER_SYNC_MS);
}

/** Finishes what the previous server left (recover.ts); never throws. */
async function recoverInBackground(deps: Parameters<typeof recover>[0], log: (line: string) => void): Promise<void> {
  try {
    await deps.runtime.ping();
    const recovery = await recover(deps);
    for (const note of recovery.notes) log(note);
    recovery.retireStrays().then(
      (notes) => notes.forEach(log),
      (error: unknown) => log(`warning: could not remove leftover containers: ${String(error)}`),
    );
  } catch (error) {
    log(`warning: ${(error as Error).message}`);
  }
}

/** One Docker engine (the default), or a swarm through its manager; both at DOCKER_HOST. */
function chooseRuntime(config: ServerConfig): Runtime {
  if (config.engine === 'swarm')
    return new SwarmRuntime({ registry: config.registry!, stopGraceMs: config.timeouts.stopMs, nodeDockerHost: config.nodeDockerHost });
  return new DockerRuntime();
}

/** `slipway/stack:bookworm` → `slipway-bookworm`: the STACK apps see. */
function stackName(image: string): string {
  const tag = image.includes(':') ? image.slice(image.lastIndexOf(':') + 1) : 'latest';
  return `slipway-${tag}`;
}
