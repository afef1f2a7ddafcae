import type { Duplex } from 'node:stream';
import type { Release, Terminal } from '../../run/oneoffs.js';
import {
  decodeResize,
  encodeData,
  encodeExit,
  encodeFrame,
  FRAME,
  FrameDecoder,
  MAX_TERMINAL_CELLS,
  RUN_PROTOCOL,
  TERM_NAME,
  type Frame,
  type TerminalSize,
} from '../../run/protocol.js';
import type { AttachedOneOff } from '../../runtime/runtime.js';
import { readJsonObject } from '../body.js';
import type { RouteContext } from '../context.js';
import { ApiError } from '../errors.js';
import { acceptUpgrade, readUpgradeBody } from '../upgrade.js';
import { envVariables, totalWithin } from './env.js';

/**
 * `slipway run`. `POST /api/apps/:app/run` `{"command": "…", "env": {…}}` starts a detached one-off and
 * answers 201 `{"name": "one-off-3", "container": "…"}`. The same request with
 * `Upgrade: slipway-run` runs it attached: 101, then stdin up and output down the connection
 * (run/protocol.ts) until the exit code; a client that leaves takes its one-off with it. An
 * attached run may ask for a terminal: `"tty": {"rows": 40, "cols": 120, "term": "xterm"}`.
 */
export function runRoutes(ctx: RouteContext): void {
  const { oneOffs } = ctx;
  const path = '/api/apps/:app/run';

  ctx.add('POST', path, async (req, p) => {
    const app = ctx.app(p).name;
    const body = await readJsonObject(req);
    const command = commandOf(body);
    if (body.tty !== undefined) {
      throw new ApiError(400, 'invalid_tty', 'a detached one-off has no terminal: leave out "tty", or run it attached');
    }
    const env = envOf(body, ctx.store.getEnv(app));
    return { status: 201, json: await oneOffs.detach(app, await currentRelease(ctx, app), { command, env }) };
  });

  ctx.upgrade(RUN_PROTOCOL, path, async (req, p, socket, head) => {
    // The body first: a refusal with request bytes unread can reach the client as a reset.
    const { body, rest } = await readUpgradeBody(req, socket, head);
    const app = ctx.app(p).name;
    const command = commandOf(body);
    const env = envOf(body, ctx.store.getEnv(app));
    const terminal = ttyOf(body);
    const { name, oneOff } = await oneOffs.attach(app, await currentRelease(ctx, app), { command, env, terminal });
    acceptUpgrade(socket, RUN_PROTOCOL, { 'slipway-one-off': name, 'slipway-container': oneOff.container.name });
    await bridge(socket, rest, oneOff, terminal !== undefined);
  });
}

function commandOf(body: Record<string, unknown>): string {
  const { command } = body;
  if (typeof command !== 'string' || command.trim() === '') {
    throw new ApiError(400, 'invalid_command', 'give the command to run as a non-empty string: {"command": "rake db:migrate"}');
  }
  return command;
}

/** Variables for this run only, on top of the app's: `{"DEBUG": "1"}`. */
function envOf(body: Record<string, unknown>, appEnv: Record<string, string>): Record<string, string> | undefined {
  const { env } = body;
  if (env === undefined) return undefined;
  if (typeof env !== 'object' || env === null || Array.isArray(env)) {
    throw new ApiError(400, 'invalid_env', 'give the variables for this run as an object of strings: {"env": {"DEBUG": "1"}}');
  }
  const variables = envVariables(env as Record<string, unknown>, false);
  totalWithin({ ...appEnv, ...variables });
  return variables;
}

/** The terminal an attached run asks for, if any, and its size when the client knows it. */
function ttyOf(body: Record<string, unknown>): Terminal | undefined {
  const { tty } = body;
  if (tty === undefined) return undefined;
  const wrong = (): ApiError =>
    new ApiError(
      400,
      'invalid_tty',
      `give the client's terminal as {"rows": 40, "cols": 120, "term": "xterm-256color"}: rows and cols from 1 to ${MAX_TERMINAL_CELLS} (or neither), term optional (letters, digits, . _ + -)`,
    );
  if (typeof tty !== 'object' || tty === null || Array.isArray(tty)) throw wrong();
  const { rows, cols, term } = tty as Record<string, unknown>;
  const cells = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_TERMINAL_CELLS;
  if (term !== undefined && (typeof term !== 'string' || !TERM_NAME.test(term))) throw wrong();
  if (rows === undefined && cols === undefined) return { term: term ?? 'xterm' };
  if (!cells(rows) || !cells(cols)) throw wrong();
  return { term: term ?? 'xterm', size: { rows, cols } };
}

/** The current deployment's image, or a 409 telling how to deploy first. */
async function currentRelease(ctx: RouteContext, app: string): Promise<Release> {
  return ctx.formation.release(app);
}

/**
 * Joins the client's connection to the one-off until the command ends (the client gets its exit
 * code) or the client leaves (the one-off is killed). Never throws: the connection is its own.
 */
async function bridge(socket: Duplex, rest: Buffer, oneOff: AttachedOneOff, terminal: boolean): Promise<void> {
  let finished = false;
  // The end of input is a frame: a connection that ends or drops means the client is gone.
  const left = (): void => {
    if (finished) return;
    finished = true;
    socket.destroy();
    void oneOff.kill();
  };
  socket.once('end', left);
  socket.once('close', left);

  // One engine call at a time, in order: two in flight may land the wrong way round (a window
  // resized twice in quick succession would end at the first size).
  let resizing: Promise<void> = Promise.resolve();
  const resize = (size: TerminalSize): void => {
    resizing = resizing.then(() => oneOff.resize(size)).catch(() => undefined);
  };
  const decoder = new FrameDecoder();
  let inputEnded = false;
  let waitingForInput = false;
  const take = (frame: Frame): void => {
    if (frame.type === FRAME.stdin && !inputEnded) {
      if (!oneOff.stdin.write(frame.payload) && !waitingForInput) {
        // A command that reads slowly slows the client down, instead of filling memory.
        waitingForInput = true;
        socket.pause();
        oneOff.stdin.once('drain', () => {
          waitingForInput = false;
          socket.resume();
        });
      }
    } else if (frame.type === FRAME.eof && !inputEnded) {
      inputEnded = true;
      oneOff.stdin.end();
    } else if (frame.type === FRAME.resize) {
      // Without a terminal there is nothing to size.
      const size = decodeResize(frame.payload);
      if (terminal && size.rows > 0 && size.cols > 0) resize(size);
    } else if (frame.type !== FRAME.stdin) {
      left(); // only stdin and eof go this way: not a slipway run client
    }
  };
  const onData = (chunk: Buffer): void => {
    try {
      decoder.push(chunk).forEach(take);
    } catch {
      left();
    }
  };
  socket.on('data', onData);
  if (rest.length > 0) onData(rest);
  socket.resume();

  try {
    for await (const { stream, data } of oneOff.output) {
      for (const frame of encodeData(FRAME[stream], data)) {
        if (!socket.destroyed && !socket.write(frame)) await drained(socket);
      }
    }
    const code = await oneOff.exit;
    if (!finished) socket.end(encodeExit(code));
  } catch (error) {
    // Killed because the client left, or the engine failed: either way it must not stay.
    const reason = error instanceof Error ? error.message : String(error);
    if (!finished) socket.end(encodeFrame(FRAME.error, `the one-off stopped unexpectedly (${reason}); run it again`));
    await oneOff.kill();
  } finally {
    finished = true;
  }
}

/** Resolves when the socket can take more, or will never again. */
function drained(socket: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
