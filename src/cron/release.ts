import type { CommitSource } from '../build/source.js';
import { DeployFailure } from '../deploy/failure.js';
import type { DeployLog } from '../deploy/log.js';
import type { DeploymentRecord, Store } from '../store/store.js';
import { CronFileError, parseCronFile, type CronSyntax } from './file.js';

/**
 * The pipeline's build-time check of `cron.json`: a bad one fails the build naming the job; a
 * good one is recorded with the deployment, whose jobs run once (and only if) it succeeds.
 */
export function cronReleaseCheck(store: Pick<Store, 'cron'>, syntax: CronSyntax) {
  return async (deployment: DeploymentRecord, source: CommitSource, entries: ReadonlySet<string>, log: DeployLog): Promise<void> => {
    if (!entries.has('cron.json')) return;
    let jobs;
    try {
      jobs = parseCronFile(await source.readFile('cron.json'), syntax);
    } catch (error) {
      if (error instanceof CronFileError) throw new DeployFailure('build-error', error.message);
      throw error;
    }
    store.cron.setJobs(deployment.app, deployment.id, jobs);
    log.detail(
      `cron.json: ${jobs.length === 1 ? '1 job' : `${jobs.length} jobs`}${jobs
        .map((j) => `; "${j.schedule}" ${j.command}`)
        .join('')
        .slice(0, 200)} (UTC)`,
    );
  };
}
