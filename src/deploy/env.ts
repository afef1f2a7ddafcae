/** The environment every container of a deployment gets: the app's variables plus Slipway's. */

import { PLATFORM_ENV } from '../runtime/redact.js';

/** Names Slipway sets itself; an app cannot override them. */
export const RESERVED_ENV = PLATFORM_ENV;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface InjectedEnv {
  app: string;
  /** e.g. `web-1`, `postdeploy-1`. */
  container: string;
  port: number;
  commit: string;
  stack: string;
  /** The container's memory limit in MiB, when the app sets one. */
  memoryMb?: number | null;
}

export function containerEnv(appEnv: Record<string, string>, injected: InjectedEnv): Record<string, string> {
  return {
    ...appEnv,
    PORT: String(injected.port),
    APP: injected.app,
    CONTAINER: injected.container,
    // Heroku's name for the same thing, for apps that read it.
    DYNO: injected.container.replace(/-(\d+)$/, '.$1'),
    CONTAINER_VERSION: injected.commit,
    SOURCE_VERSION: injected.commit,
    STACK: injected.stack,
    // Scalingo's name; bytes, so apps can size their heaps from it.
    ...(injected.memoryMb ? { CONTAINER_MEMORY: String(injected.memoryMb * 1024 * 1024) } : {}),
  };
}

/** Returns why `name` cannot be an app variable, or undefined when it can. */
export function envNameProblem(name: string): string | undefined {
  if (!ENV_NAME.test(name) || name.length > 255) {
    return `"${name.slice(0, 80)}" is not a valid variable name; use letters, digits and underscores, not starting with a digit`;
  }
  if ((RESERVED_ENV as readonly string[]).includes(name) || name.startsWith('SLIPWAY_')) {
    return `${name} is set by Slipway in every container and cannot be changed; choose another name`;
  }
  return undefined;
}

/**
 * Sizes an environment can have: Linux refuses to start a process with a single variable over
 * 128 KiB, or with all of them over a share of 2 MiB, so a larger value would be stored and then
 * break every start of the app. The limits leave room under both.
 */
export const MAX_ENV_VALUE_BYTES = 32 * 1024;
export const MAX_ENV_TOTAL_BYTES = 128 * 1024;

/** Returns why `value` cannot be the value of `name`, or undefined when it can. */
export function envValueProblem(name: string, value: string): string | undefined {
  if (value.includes('\0')) {
    return `the value of ${name} contains a NUL byte, which no process environment can hold; remove it (encode binary data, e.g. in base64)`;
  }
  const bytes = Buffer.byteLength(value);
  if (bytes > MAX_ENV_VALUE_BYTES) {
    return `the value of ${name} is ${bytes} bytes, over the ${MAX_ENV_VALUE_BYTES} a variable may hold; keep larger data in a file (e.g. on storage) and put its path in ${name}`;
  }
  return undefined;
}

/** Returns why the variables together are too large for a container, or undefined when they fit. */
export function envTotalProblem(env: Record<string, string>): string | undefined {
  const bytes = Object.entries(env).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value) + 2, 0);
  if (bytes <= MAX_ENV_TOTAL_BYTES) return undefined;
  return `the variables would take ${bytes} bytes together, over the ${MAX_ENV_TOTAL_BYTES} an app's environment may take; remove some, or keep large values in files (e.g. on storage)`;
}
