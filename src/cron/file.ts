import { Cron } from 'croner';
import type { CronJob } from '../store/cron.js';

/** Scalingo's limit on jobs per app is generous; this one keeps a typo from starting thousands. */
const MAX_JOBS = 50;
const NICKNAMES = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/** A cron.json that cannot run; the message names the job and says what to write instead. */
export class CronFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CronFileError';
  }
}

export interface CronSyntax {
  /** Tests only: schedules have six fields, the first for seconds. */
  seconds: boolean;
}

/**
 * Scalingo's `cron.json`: `{"jobs": [{"command": "*\/10 * * * * node cleanup.js"}]}` — each
 * command's first five fields (or a nickname such as `@hourly`) are its schedule, in UTC.
 */
export function parseCronFile(bytes: Uint8Array, syntax: CronSyntax = { seconds: false }): CronJob[] {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new CronFileError(`cron.json is not valid JSON (${(error as Error).message}); write {"jobs": [{"command": "*/10 * * * * node cleanup.js"}]}`);
  }
  const jobs = (value as { jobs?: unknown } | null)?.jobs;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Array.isArray(jobs)) {
    throw new CronFileError('cron.json must be an object with a "jobs" list: {"jobs": [{"command": "*/10 * * * * node cleanup.js"}]}');
  }
  if (jobs.length > MAX_JOBS) throw new CronFileError(`cron.json has ${jobs.length} jobs; at most ${MAX_JOBS} are allowed`);
  return jobs.map((job, i) => parseJob(job, i + 1, syntax));
}

function parseJob(job: unknown, n: number, syntax: CronSyntax): CronJob {
  const command = (job as { command?: unknown } | null)?.command;
  if (typeof job !== 'object' || job === null || typeof command !== 'string') {
    throw new CronFileError(`cron.json job ${n} has no "command" string; write {"command": "*/10 * * * * node cleanup.js"}`);
  }
  const name = `cron.json job ${n} ("${command.slice(0, 80)}")`;
  const fields = command.trim().split(/\s+/);
  const scheduleFields = fields[0]?.startsWith('@') ? 1 : syntax.seconds ? 6 : 5;
  const schedule = fields.slice(0, scheduleFields).join(' ');
  // The command as written after the schedule, its own spacing kept.
  const rest = command.trim().replace(new RegExp(`^(?:\\S+\\s+){${scheduleFields}}`), '');
  if (fields.length <= scheduleFields || rest === '') {
    throw new CronFileError(`${name} has no command after its schedule; write the schedule, then the command, e.g. "0 * * * * node hourly.js"`);
  }
  const problem = scheduleProblem(schedule, syntax);
  if (problem) throw new CronFileError(`${name}: ${problem}`);
  return { schedule, command: rest };
}

function scheduleProblem(schedule: string, syntax: CronSyntax): string | undefined {
  const expected = syntax.seconds ? 'six fields (second minute hour day month weekday)' : 'five fields (minute hour day month weekday)';
  if (schedule.startsWith('@')) {
    if (NICKNAMES.includes(schedule.toLowerCase())) return undefined;
    return `"${schedule}" is not a schedule Slipway knows; use ${NICKNAMES.join(', ')} or ${expected}`;
  }
  try {
    new Cron(cronPattern(schedule), { paused: true, timezone: 'UTC' }).stop();
    return undefined;
  } catch (error) {
    return `the schedule "${schedule}" is not valid (${(error as Error).message}); use ${expected}, such as "*/10 * * * *", or @hourly`;
  }
}

/** What croner is given: nicknames it lacks spelled out; five fields get a zero seconds field. */
export function cronPattern(schedule: string): string {
  const nickname = schedule.toLowerCase();
  if (nickname === '@midnight') return '0 0 0 * * *';
  if (nickname.startsWith('@')) return nickname;
  const fields = schedule.split(' ');
  return fields.length === 5 ? `0 ${schedule}` : schedule;
}
