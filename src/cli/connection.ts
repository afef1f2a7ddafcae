import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { CliError } from './errors.js';

export interface Connection {
  url: string;
  token: string;
}

export function configFile(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'slipway', 'config.yml');
}

/** `SLIPWAY_URL` and `SLIPWAY_TOKEN` win over what `slipway login` saved. */
export function loadConnection(env: NodeJS.ProcessEnv): Connection {
  let saved: Partial<Connection> = {};
  try {
    saved = (YAML.parse(readFileSync(configFile(env), 'utf8')) ?? {}) as Partial<Connection>;
  } catch {
    // no saved login
  }
  const url = (env.SLIPWAY_URL || saved.url || 'http://127.0.0.1:7070').replace(/\/+$/, '');
  const token = env.SLIPWAY_TOKEN || saved.token;
  if (!token) {
    throw new CliError('No token: run "slipway login --url <url> --token <token>" or set SLIPWAY_TOKEN.');
  }
  return { url, token };
}

export function saveConnection(env: NodeJS.ProcessEnv, connection: Connection): string {
  const file = configFile(env);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, YAML.stringify(connection), { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}
