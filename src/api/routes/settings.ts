import type { AppRecord, AppSettings } from '../../store/store.js';
import { readJsonObject } from '../body.js';
import type { RouteContext } from '../context.js';
import { ApiError } from '../errors.js';

/** The settings that are numbers; healthcheckPath is the one string. */
type NumberField = Exclude<keyof AppSettings, 'healthcheckPath' | BooleanField>;

/** The settings that are on or off (served by the router: forceHttps, hsts). */
type BooleanField = 'forceHttps' | 'hsts';
const BOOLEANS: readonly BooleanField[] = ['forceHttps', 'hsts'];

interface SettingSpec {
  field: NumberField;
  /** What a valid value is, for the error message. */
  expected: string;
  valid(value: number): boolean;
  /** API value → stored value, and back. */
  store(value: number): number;
  show(stored: number): number;
}

const seconds = (field: NumberField): SettingSpec => ({
  field,
  expected: "a number of seconds between 0 and 86400, or null for the server's default",
  valid: (v) => v > 0 && v <= 86_400,
  store: (v) => Math.round(v * 1000),
  show: (ms) => ms / 1000,
});

const SETTINGS: Record<string, SettingSpec> = {
  bootTimeout: seconds('bootTimeoutMs'),
  hookTimeout: seconds('hookTimeoutMs'),
  stopTimeout: seconds('stopTimeoutMs'),
  memory: {
    field: 'memoryMb',
    expected: 'a whole number of MiB from 16 to 1048576 for each container, or null for no limit',
    valid: (v) => Number.isInteger(v) && v >= 16 && v <= 1_048_576,
    store: (v) => v,
    show: (v) => v,
  },
  cpus: {
    field: 'cpus',
    expected: 'a number of cores from 0.01 to 256 for each container, or null for no limit',
    valid: (v) => v >= 0.01 && v <= 256,
    store: (v) => v,
    show: (v) => v,
  },
  healthcheckTimeout: {
    field: 'healthcheckTimeoutMs',
    expected: 'a number of seconds from 0.1 to 60 for one health check to answer, or null for the default (5)',
    valid: (v) => v >= 0.1 && v <= 60,
    store: (v) => Math.round(v * 1000),
    show: (ms) => ms / 1000,
  },
  healthcheckInterval: {
    field: 'healthcheckIntervalMs',
    expected: 'a number of seconds from 0.1 to 3600 between checks of serving web containers, or null for the default (5)',
    valid: (v) => v >= 0.1 && v <= 3600,
    store: (v) => Math.round(v * 1000),
    show: (ms) => ms / 1000,
  },
};

/** A path of printable ASCII without spaces, starting with a slash: what goes on the request line. */
const HEALTH_PATH = /^\/[\x21-\x7e]{0,1023}$/;

/** Per-app time and resource limits, and maintenance mode. */
export function settingsRoutes(ctx: RouteContext): void {
  ctx.add('GET', '/api/apps/:app/settings', (_req, p) => ({ json: settingsJson(ctx.app(p)) }));
  ctx.add('GET', '/api/apps/:app/maintenance', (_req, p) => ({ json: { enabled: ctx.app(p).maintenance } }));
  ctx.add('PUT', '/api/apps/:app/maintenance', async (req, p) => {
    const app = ctx.app(p).name;
    const { enabled } = await readJsonObject(req);
    if (typeof enabled !== 'boolean') {
      throw new ApiError(400, 'invalid_maintenance', 'send {"enabled": true} to show visitors the maintenance page, {"enabled": false} to serve them again');
    }
    const { maintenance } = ctx.store.setMaintenance(app, enabled);
    // Answered once no router serves the app the old way any more.
    await ctx.routersUpdated();
    return { json: { enabled: maintenance } };
  });
  ctx.add('PATCH', '/api/apps/:app/settings', async (req, p) => {
    const app = ctx.app(p).name;
    const changes = settingChanges(await readJsonObject(req));
    const updated = ctx.store.updateSettings(app, changes);
    // forceHttps and hsts are the routers': answered once they apply them.
    await ctx.routersUpdated();
    return { json: settingsJson(updated) };
  });
}

function settingChanges(body: Record<string, unknown>): Partial<AppSettings> {
  const changes: Partial<AppSettings> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'healthcheckPath') {
      if (value !== null && (typeof value !== 'string' || !HEALTH_PATH.test(value))) {
        throw new ApiError(
          400,
          'invalid_setting',
          'healthcheckPath must be a path starting with "/", such as "/up" (no spaces), or null to check only that web accepts connections',
        );
      }
      changes.healthcheckPath = value;
      continue;
    }
    if ((BOOLEANS as readonly string[]).includes(key)) {
      if (value !== null && typeof value !== 'boolean') throw new ApiError(400, 'invalid_setting', `${key} must be true or false (or null for false)`);
      changes[key as BooleanField] = value === true;
      continue;
    }
    const spec = SETTINGS[key];
    if (!spec) {
      throw new ApiError(
        400,
        'invalid_setting',
        `unknown setting "${key}"; the settings are ${[...Object.keys(SETTINGS), 'healthcheckPath', ...BOOLEANS].join(', ')}`,
      );
    }
    if (value !== null && (typeof value !== 'number' || !spec.valid(value))) {
      throw new ApiError(400, 'invalid_setting', `${key} must be ${spec.expected}`);
    }
    changes[spec.field] = value === null ? null : spec.store(value);
  }
  return changes;
}

function settingsJson(app: AppRecord): object {
  return {
    ...Object.fromEntries(
      Object.entries(SETTINGS).map(([key, spec]) => {
        const stored = app.settings[spec.field];
        return [key, stored === null ? null : spec.show(stored)];
      }),
    ),
    healthcheckPath: app.settings.healthcheckPath,
    forceHttps: app.settings.forceHttps,
    hsts: app.settings.hsts,
  };
}
