import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateToken } from '../auth/tokens.js';

export interface AdminToken {
  token: string;
  /** True when this start generated it (it is printed once, then only kept in the file). */
  generated: boolean;
  file: string | undefined;
}

/** `SLIPWAY_ADMIN_TOKEN` when set; otherwise `<data>/admin-token`, generated (mode 0600) on first start. */
export function loadAdminToken(dataDir: string, fromEnv: string | undefined): AdminToken {
  if (fromEnv && fromEnv.trim() !== '') return { token: fromEnv.trim(), generated: false, file: undefined };
  const file = path.join(dataDir, 'admin-token');
  if (existsSync(file)) {
    chmodSync(file, 0o600);
    return { token: readFileSync(file, 'utf8').trim(), generated: false, file };
  }
  const token = generateToken();
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, generated: true, file };
}
