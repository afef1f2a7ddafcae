/**
 * The engine quotes a container's environment back in some errors (runc: `environment variable
 * value can't contain null(\x00): "KEY=value": unknown`), and those errors reach the push output,
 * the stored log and API messages. An error about a container therefore leaves the runtime with
 * every value of its environment replaced, however the engine quoted it.
 */
export const REDACTED = '<redacted>';

/**
 * Variables Slipway sets in every container itself (an app cannot set them): the app's and the
 * container's names, the port, the commit, the stack. Not secrets, and the engine's errors name
 * the container by them ("the container name /slipway-shop-1-web-1 is already in use"), so their
 * values stay readable.
 */
export const PLATFORM_ENV = ['PORT', 'APP', 'CONTAINER', 'CONTAINER_VERSION', 'SOURCE_VERSION', 'STACK', 'DYNO', 'CONTAINER_MEMORY'] as const;
const PLATFORM = new Set<string>(PLATFORM_ENV);

/** Values this short are also ordinary words and numbers of the message (PORT=3000, DEBUG=1). */
const MIN_VALUE_LENGTH = 4;

export function redactEnv(text: string, env: Record<string, string>): string {
  let out = text;
  for (const [name, value] of Object.entries(env)) {
    if (PLATFORM.has(name)) continue;
    const key = escapeRegExp(name);
    // `"NAME=…"` up to its closing quote (Go's escapes included), and a bare NAME=… up to a space.
    out = out.replace(new RegExp(`"${key}=(?:\\\\.|[^"\\\\])*"`, 'g'), `"${name}=${REDACTED}"`);
    out = out.replace(new RegExp(`(^|[^A-Za-z0-9_"])${key}=[^\\s"]*`, 'g'), (_m, before: string) => `${before}${name}=${REDACTED}`);
    if (value.length < MIN_VALUE_LENGTH) continue;
    for (const form of new Set([value, goQuoted(value), JSON.stringify(value).slice(1, -1)])) {
      out = out.split(form).join(REDACTED);
    }
  }
  return out;
}

/** Rewrites an engine error's message (and the stack that repeats it) without the environment's values. */
export function redactError(error: unknown, env: Record<string, string>): unknown {
  if (!(error instanceof Error)) return error;
  const message = redactEnv(error.message, env);
  if (message !== error.message) {
    error.stack = (error.stack ?? '').split(error.message).join(message);
    error.message = message;
  }
  // dockerode keeps the engine's answer beside the message.
  const extra = error as Error & { json?: unknown; reason?: unknown };
  if (extra.json !== undefined) extra.json = typeof extra.json === 'string' ? redactEnv(extra.json, env) : undefined;
  return error;
}

/** Go's %q form of a string, which the engine uses to quote it: control bytes as \xNN. */
function goQuoted(value: string): string {
  return (
    value
      .replace(/[\\"]/g, (c) => `\\${c}`)
      // eslint-disable-next-line no-control-regex -- control bytes are exactly what the engine quotes
      .replace(/[\x00-\x1f\x7f]/g, (c) => {
        const named: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };
        return named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
      })
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
