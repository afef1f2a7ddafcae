import type { RouteTarget } from '../store/store.js';
import type { AccessOptions, AppTraffic } from './access.js';
import type { Directory } from './handle.js';

/** A certificate the router serves over TLS, for the host names it covers (chosen by SNI). */
export interface CertificateMessage {
  /** Exact names and wildcards (`*.example.com`), lower case, as the certificate covers them. */
  hostnames: string[];
  /** PEM: the leaf certificate, then its chain. */
  cert: string;
  /** PEM: the private key. */
  key: string;
  /** The server-wide default: served when no other certificate matches the SNI name (or none is sent). */
  default?: boolean;
}

/** An ACME HTTP-01 challenge the router answers: [token, key authorization]. */
export type ChallengeMessage = [token: string, keyAuthorization: string];

export interface RouteRecordMessage {
  app: string;
  deployment: number;
  targets: RouteTarget[];
}

/**
 * A change to a router's state, or a question about it. The server sends these to the router
 * process over its channel, and the router process passes them on to its workers.
 */
export type RouterCommand =
  /** Everything at once: a router that (re)connects gets this first. */
  | {
      type: 'state';
      directory: Directory;
      routes: RouteRecordMessage[];
      certificates: CertificateMessage[];
      challenges: ChallengeMessage[];
      followed: string[];
    }
  | { type: 'route'; app: string; deployment: number; targets: RouteTarget[] }
  | { type: 'directory'; directory: Directory }
  | { type: 'drain'; targets: RouteTarget[]; timeoutMs: number }
  | { type: 'take-out'; target: RouteTarget }
  /** The whole set of certificates (the server-wide default among them): replaces the last. */
  | { type: 'certificates'; certificates: CertificateMessage[] }
  /** The whole set of ACME challenges to answer: replaces the last. */
  | { type: 'challenges'; challenges: ChallengeMessage[] }
  /** The apps whose every access line is wanted (someone follows them): replaces the last set. */
  | { type: 'follow'; apps: string[] }
  /**
   * Send every app's access lines now (someone reads them): the lines arrive before the answer.
   * Lines of apps nobody follows otherwise go only every few seconds.
   */
  | { type: 'send-lines' };

/** A command as sent: each is answered `done` or `failed` with its id. */
export type RouterRequest = RouterCommand & { id: number };

export type RouterReply = { type: 'done'; id: number } | { type: 'failed'; id: number; message: string };

/** What a router sends unasked: its requests, summed per app with their lines (router/access.ts). */
export type RouterReport = { type: 'requests'; traffic: AppTraffic[] };

/** From the router process to one of its workers (the listening socket comes with `listen`). */
export type ToWorker =
  | RouterRequest
  | { id: number; type: 'listen'; domain: string; tlsInFront: boolean; httpsPort?: number; access?: AccessOptions }
  /** The HTTPS port's listening socket comes with this one. */
  | { id: number; type: 'listen-tls' }
  | { id: number; type: 'retire'; timeoutMs: number };

export type FromWorker = { type: 'ready' } | RouterReply | RouterReport;
