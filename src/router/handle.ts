import type { RouteTarget } from '../store/store.js';
import type { DirectoryRecord } from '../store/routing.js';
import type { CertificateMessage, ChallengeMessage } from './messages.js';

/** What the server knows of apps that the router needs to answer 404 versus 503, and custom domains. */
export type Directory = DirectoryRecord;

/** The server's control over the router process. Every method resolves once every connected router applied the change. */
export interface RouterHandle {
  /** Points the app at new targets; resolves when no router will send a new request elsewhere. */
  switchTo(app: string, deployment: number, targets: RouteTarget[]): Promise<void>;
  /** Resolves when the targets have no request in flight in any router, or after `timeoutMs`. */
  drain(targets: readonly RouteTarget[], timeoutMs: number): Promise<void>;
  /** Takes a target out of rotation until it accepts connections again. */
  takeOut(target: RouteTarget): void;
  setDirectory(directory: Directory): Promise<void>;
  /** Replaces the certificates every router serves on its HTTPS port (from the next handshake on). */
  setCertificates(certificates: CertificateMessage[]): Promise<void>;
  /** Replaces the ACME HTTP-01 challenges every router answers at /.well-known/acme-challenge/<token>. */
  setChallenges(challenges: ChallengeMessage[]): Promise<void>;
  close(): Promise<void>;
}
