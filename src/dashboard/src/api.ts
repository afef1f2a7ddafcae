/** The Slipway API as the dashboard uses it: the session's cookie, and its CSRF token on changes. */

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf: string | null = null;
/** Called when the session ends under the page (expired, revoked, logged out elsewhere). */
let onLoggedOut: () => void = () => undefined;

export function setSession(token: string | null, loggedOut: () => void): void {
  csrf = token;
  onLoggedOut = loggedOut;
}

async function request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-slipway-csrf'] = csrf;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', signal });
  if (!res.ok) {
    const error = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
    if (res.status === 401 && path !== '/api/session') onLoggedOut();
    throw new ApiFailure(res.status, error.error ?? 'http_error', error.message ?? `the server answered ${res.status}`);
  }
  return res;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  return (await (await request(method, path, body)).json()) as T;
}

/**
 * Reads a streamed answer line by line as it arrives. Resolves when the server ends it; rejects
 * when the connection drops (the caller reconnects).
 */
export async function streamLines(path: string, onLine: (line: string) => void, signal: AbortSignal, method = 'GET', body?: unknown): Promise<void> {
  const res = await request(method, path, body, signal);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const parts = (rest + value).split('\n');
    rest = parts.pop()!;
    for (const line of parts) onLine(line);
  }
  if (rest !== '') onLine(rest);
}

export interface OperationEvent {
  line?: string;
  result?: unknown;
  error?: string;
  message?: string;
}

/** Runs an operation (scale, restart, rollback): its progress lines, then its result or error. */
export async function operation(path: string, body: unknown, onLine: (line: string) => void): Promise<unknown> {
  let outcome: OperationEvent | undefined;
  await streamLines(
    path,
    (text) => {
      if (text.trim() === '') return;
      const event = JSON.parse(text) as OperationEvent;
      if (event.line !== undefined) onLine(event.line);
      else outcome = event;
    },
    new AbortController().signal,
    'POST',
    body,
  );
  if (!outcome) throw new ApiFailure(0, 'interrupted', 'the connection ended before the operation did; reload to see where it stands');
  if (outcome.error) throw new ApiFailure(422, outcome.error, outcome.message ?? outcome.error);
  return outcome.result;
}

export interface Phase {
  phase: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  failed: boolean;
}

export interface Deployment {
  id: number;
  status: string;
  reason: string | null;
  commit: string;
  subject: string | null;
  ref: string;
  pushedBy: string | null;
  rollbackOf: number | null;
  createdAt: string;
  finishedAt: string | null;
  phases?: Phase[];
}

export interface App {
  name: string;
  url: string;
  currentDeployment: number | null;
  maintenance: boolean;
  deploying: boolean;
  latestDeployment: { id: number; status: string; createdAt: string; finishedAt: string | null } | null;
  containers: { running: number | null; expected: number };
  formation: Record<string, number>;
}

export interface Container {
  name: string;
  container: string;
  type: string | null;
  deployment: number | null;
  state: string;
  restartCount: number;
  startedAt: string | null;
  exitCode: number | null;
}

export interface LogRecord {
  time: string;
  container: string;
  type: string | null;
  deployment: number | null;
  stream: string;
  line: string;
}

export const path = {
  app: (app: string) => `/api/apps/${encodeURIComponent(app)}`,
};
