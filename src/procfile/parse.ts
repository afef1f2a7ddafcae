/**
 * Procfile parsing: `type: command` lines, `#` comments and blank lines ignored.
 * Pure; every error names the line and says how to fix it.
 */

export const POSTDEPLOY = 'postdeploy';
/** Heroku's and Dokku's name for the same hook: their Procfiles deploy here unchanged. */
export const RELEASE = 'release';

const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,29}$/;
/** Each process type starts at least one container: a bound keeps a typo from starting thousands. */
export const MAX_PROCESS_TYPES = 50;
export const MAX_COMMAND_LENGTH = 32 * 1024;

export interface Procfile {
  /** Process types to run as long-lived containers, in file order (never includes the hook). */
  readonly processes: ReadonlyMap<string, string>;
  /** The `postdeploy:` (or `release:`) command, when the Procfile declares one. */
  readonly postdeploy: string | undefined;
}

export class ProcfileError extends Error {
  constructor(
    message: string,
    /** 1-based line number, when the problem is on a line. */
    readonly line?: number,
  ) {
    super(line === undefined ? `Procfile: ${message}` : `Procfile line ${line}: ${message}`);
    this.name = 'ProcfileError';
  }
}

/** Decodes raw Procfile bytes (UTF-8, optional BOM) and parses them. */
export function parseProcfileBytes(bytes: Uint8Array): Procfile {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ProcfileError('the file is not valid UTF-8; save it as UTF-8 text and push again');
  }
  return parseProcfile(text);
}

/** The Procfile in canonical form (what Slipway keeps with a deployment); parses back to the same. */
export function formatProcfile(procfile: Procfile): string {
  const lines = [...procfile.processes].map(([type, command]) => `${type}: ${command}`);
  if (procfile.postdeploy !== undefined) lines.push(`${POSTDEPLOY}: ${procfile.postdeploy}`);
  return `${lines.join('\n')}\n`;
}

export function parseProcfile(text: string): Procfile {
  const processes = new Map<string, string>();
  let postdeploy: string | undefined;
  /** The hook's type as written (`postdeploy` or `release`) and its line. */
  let hook: { type: string; line: number } | undefined;
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split('\n');

  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;

    const colon = line.indexOf(':');
    if (colon === -1) {
      throw new ProcfileError(`expected "type: command" but found no colon in "${excerpt(trimmed)}"; write it as e.g. "web: ${excerpt(trimmed)}"`, lineNo);
    }
    const type = line.slice(0, colon).trim();
    const command = line.slice(colon + 1).trim();
    if (!TYPE_NAME.test(type)) {
      throw new ProcfileError(
        `"${excerpt(type)}" is not a valid process type; use a letter followed by up to 29 letters, digits, "-" or "_" (e.g. "web", "worker")`,
        lineNo,
      );
    }
    const previous = seen.get(type);
    if (previous !== undefined) {
      throw new ProcfileError(`process type "${type}" is already defined on line ${previous}; keep one definition`, lineNo);
    }
    seen.set(type, lineNo);
    if (command === '') {
      throw new ProcfileError(`"${type}:" has no command; write the command to run after the colon`, lineNo);
    }
    if (command.length > MAX_COMMAND_LENGTH) {
      throw new ProcfileError(
        `the "${type}" command is ${command.length} characters long; keep it under ${MAX_COMMAND_LENGTH} (move it into a script and run that)`,
        lineNo,
      );
    }
    if (type === POSTDEPLOY || type === RELEASE) {
      if (hook !== undefined) {
        throw new ProcfileError(
          `"${type}:" and "${hook.type}:" (line ${hook.line}) are the same hook here, run after the new containers boot and before they get traffic; keep one`,
          lineNo,
        );
      }
      hook = { type, line: lineNo };
      postdeploy = command;
    } else processes.set(type, command);
    if (processes.size > MAX_PROCESS_TYPES) {
      throw new ProcfileError(`more than ${MAX_PROCESS_TYPES} process types are defined; Slipway runs at most ${MAX_PROCESS_TYPES}`, lineNo);
    }
  });

  if (processes.size === 0) {
    throw new ProcfileError(
      hook === undefined
        ? 'no process type is defined; add a line such as "web: node server.js"'
        : `only "${hook.type}:" is defined; add a process to run, such as "web: node server.js"`,
    );
  }
  return { processes, postdeploy };
}

function excerpt(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
