import { createHmac } from 'node:crypto';
import type { NotifierFormat } from '../store/notifiers.js';
import type { Notification } from './events.js';

/** The bytes a notifier of this format is sent for the notification. */
export function render(format: NotifierFormat, n: Notification): string {
  return format === 'slack' ? JSON.stringify({ text: slackText(n) }) : JSON.stringify(n);
}

/** GitHub's scheme: `sha256=` and the hex HMAC-SHA256 of the exact body, keyed with the notifier's secret. */
export function sign(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** One message in Slack's (and Mattermost's) markdown: what happened, to which commit, and where to look. */
export function slackText(n: Notification): string {
  const d = n.deployment;
  const commit = d ? `commit \`${d.commit.slice(0, 7)}\`${d.subject ? ` "${d.subject}"` : ''}${d.pushedBy ? `, pushed by ${d.pushedBy}` : ''}` : '';
  switch (n.event) {
    case 'deploy.started':
      return `:rocket: *${n.app}*: deployment ${d?.id} started (${commit})`;
    case 'deploy.succeeded':
      return `:white_check_mark: *${n.app}*: deployment ${d?.id} succeeded in ${d?.durationSeconds}s (${commit}): ${n.appUrl}`;
    case 'deploy.failed': {
      const where = d?.failedPhase ? ` in the ${d.failedPhase} phase` : '';
      return `:x: *${n.app}*: deployment ${d?.id} failed: ${d?.status}${where}${d?.reason ? `: ${d.reason}` : ''} (${commit}). Log: ${n.logUrl}`;
    }
    case 'app.crashed': {
      const c = n.container;
      return `:warning: *${n.app}*: ${c?.name} is restarting in a loop (${c?.deaths} exits lately${c?.exitCode === null || c?.exitCode === undefined ? '' : `, the last with code ${c.exitCode}`}). Logs: ${n.logUrl}`;
    }
    default:
      return `:wave: *${n.app}*: a test notification from Slipway; this notifier works.`;
  }
}
