import { BuildFailedError } from '../runtime/runtime.js';

/**
 * The build was refused before anything ran (an unmet version range, an unsupported app): its
 * message is the whole sentence the user reads, and it becomes the deployment's reason as is.
 */
export class BuildRefusedError extends BuildFailedError {
  constructor(message: string) {
    super(message);
    this.name = 'BuildRefusedError';
  }
}
