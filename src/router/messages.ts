import type { RouteTarget } from '../store/store.js';
import type { AccessOptions, AccessRecord } from './access.js';
import type { Directory } from './handle.js';

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
  | { type: 'state'; directory: Directory; routes: RouteRecordMessage[] }
  | { type: 'route'; app: string; deployment: number; targets: RouteTarget[] }
  | { type: 'directory'; directory: Directory }
  | { type: 'drain'; targets: RouteTarget[]; timeoutMs: number }
  | { type: 'take-out'; target: RouteTarget };

/** A command as sent: each is answered `done` or `failed` with its id. */
export type RouterRequest = RouterCommand & { id: number };

export type RouterReply = { type: 'done'; id: number } | { type: 'failed'; id: number; message: string };

/** What a router sends unasked: its requests' records, in batches (router/access.ts). */
export type RouterReport = { type: 'requests'; records: AccessRecord[] };

/** From the router process to one of its workers (the listening socket comes with `listen`). */
export type ToWorker =
  | RouterRequest
  | { id: number; type: 'listen'; domain: string; tlsInFront: boolean; access?: AccessOptions }
  | { id: number; type: 'retire'; timeoutMs: number };

export type FromWorker = { type: 'ready' } | RouterReply | RouterReport;
