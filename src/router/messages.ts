import type { RouteTarget } from '../store/store.js';
import type { Directory } from './handle.js';

/** Messages from the server to a router worker; each is answered with `{ type: 'done', id }`. */
export type ToWorker =
  | { id: number; type: 'listen'; port: number; host: string; domain: string; upstreamTimeoutMs?: number; tlsInFront?: boolean }
  | { id: number; type: 'route'; app: string; deployment: number; targets: RouteTarget[] }
  | { id: number; type: 'directory'; directory: Directory }
  | { id: number; type: 'drain'; targets: RouteTarget[]; timeoutMs: number }
  | { id: number; type: 'take-out'; target: RouteTarget }
  | { id: number; type: 'close' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'done'; id: number }
  | { type: 'failed'; id: number; message: string };
