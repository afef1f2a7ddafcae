import type { NotifierFormat } from '../store/notifiers.js';
import { EVENTS, type EventName } from './events.js';

/** A notifier setting that cannot be used; the message says what to send instead. */
export class NotifierInputError extends Error {
  constructor(
    readonly code: 'invalid_url' | 'invalid_events' | 'invalid_format',
    message: string,
  ) {
    super(message);
    this.name = 'NotifierInputError';
  }
}

const MAX_URL_LENGTH = 2048;

/** An http(s) URL, normalised; anything else is refused in one sentence. */
export function notifierUrl(value: unknown): string {
  const text = typeof value === 'string' ? value.trim() : '';
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || text.length > MAX_URL_LENGTH) {
    throw new NotifierInputError(
      'invalid_url',
      `"${text.slice(0, 100)}" is not an http:// or https:// URL; give the webhook's full address, e.g. https://hooks.slack.com/services/...`,
    );
  }
  return url.toString();
}

/** A list (or a comma-separated string) of event names; none means every event. */
export function notifierEvents(value: unknown): EventName[] {
  if (value === undefined || value === null) return [];
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined;
  if (!list || list.some((e) => typeof e !== 'string')) {
    throw new NotifierInputError('invalid_events', `events must be a list of event names such as ["deploy.failed"]; the events are ${EVENTS.join(', ')}`);
  }
  const names = [...new Set((list as string[]).map((e) => e.trim()).filter((e) => e !== ''))];
  for (const name of names) {
    if (!(EVENTS as readonly string[]).includes(name)) {
      throw new NotifierInputError('invalid_events', `"${name.slice(0, 60)}" is not an event; the events are ${EVENTS.join(', ')}`);
    }
  }
  return names as EventName[];
}

export function notifierFormat(value: unknown): NotifierFormat {
  if (value === undefined || value === null) return 'json';
  if (value === 'json' || value === 'slack') return value;
  throw new NotifierInputError(
    'invalid_format',
    `the format must be "json" (signed, for your own endpoint) or "slack" (Slack or Mattermost incoming webhooks), not "${String(value).slice(0, 40)}"`,
  );
}
