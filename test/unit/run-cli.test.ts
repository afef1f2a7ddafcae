import net from 'node:net';
import { PassThrough } from 'node:stream';
import { attach } from '../../src/cli/attach.js';
import { splitAtCommand } from '../../src/cli/command.js';
import { commandLine } from '../../src/cli/commands/run.js';
import { CliError } from '../../src/cli/errors.js';
import { encodeExit, encodeFrame, FRAME, FrameDecoder, type Frame } from '../../src/run/protocol.js';

describe('commandLine', () => {
  test('one argument is a command line as typed', () => {
    expect(commandLine(['rake db:migrate && echo "done $HOME"'])).toBe('rake db:migrate && echo "done $HOME"');
  });

  test('several arguments each arrive whole, quoted for the shell', () => {
    expect(commandLine(['sh', '-c', "echo out; echo it's >&2; exit 3"])).toBe(`sh -c 'echo out; echo it'\\''s >&2; exit 3'`);
    expect(commandLine(['echo', '', 'a=b', '/tmp/x.txt', '$HOME'])).toBe(`echo '' a=b /tmp/x.txt '$HOME'`);
  });
});

describe('splitAtCommand (slipway run: its options, then the command)', () => {
  const options = {
    app: { type: 'string', short: 'a' },
    env: { type: 'string', short: 'e', multiple: true },
    detached: { type: 'boolean', short: 'd' },
    json: { type: 'boolean' },
  } as const;

  test.each<[string[], string[], string[]]>([
    [['node', '-v'], [], ['node', '-v']],
    [
      ['-a', 'my-app', 'node', '-v'],
      ['-a', 'my-app'],
      ['node', '-v'],
    ],
    [
      ['--app', 'my-app', '-e', 'A=1', '--env=B=2', '-d', 'ls', '-d', '/'],
      ['--app', 'my-app', '-e', 'A=1', '--env=B=2', '-d'],
      ['ls', '-d', '/'],
    ],
    [
      ['--app=my-app', '--json', 'echo', '--json'],
      ['--app=my-app', '--json'],
      ['echo', '--json'],
    ],
    [
      ['-da', 'my-app', 'rake', 'db:seed'],
      ['-da', 'my-app'],
      ['rake', 'db:seed'],
    ],
    [
      ['-a', 'my-app', '--', '-weird-name', '-x'],
      ['-a', 'my-app'],
      ['-weird-name', '-x'],
    ],
    [
      ['-a', 'my-app', '--', 'sh', '-c', 'echo -- done'],
      ['-a', 'my-app'],
      ['sh', '-c', 'echo -- done'],
    ],
    [['-a', 'my-app'], ['-a', 'my-app'], []],
    [['--bogus', 'ls'], ['--bogus'], ['ls']],
  ])('%j: own %j, command %j', (argv, own, command) => {
    expect(splitAtCommand(argv, options)).toEqual({ own, command });
  });
});

/** A connected pair of sockets: the client's for `attach`, the server's for the test. */
async function socketPair(): Promise<{ client: net.Socket; server: net.Socket; close(): void }> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  const server = await accepted;
  return { client, server, close: () => listener.close() };
}

function collect(stream: PassThrough): () => string {
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
}

describe('attach (the CLI side of an attached run)', () => {
  test('sends input and its end, shows stdout and stderr apart, resolves with the exit code', async () => {
    const pair = await socketPair();
    const io = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
    const stdout = collect(io.stdout);
    const stderr = collect(io.stderr);
    const received: Frame[] = [];
    const decoder = new FrameDecoder();
    pair.server.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        received.push(frame);
        if (frame.type === FRAME.eof) {
          pair.server.write(encodeFrame(FRAME.stderr, 'to stderr\n'));
          pair.server.end(encodeExit(3));
        }
      }
    });
    // Output that came with the 101 counts too.
    const done = attach(pair.client, encodeFrame(FRAME.stdout, 'early\n'), io);
    io.stdin.end('input');
    expect(await done).toBe(3);
    expect(stdout()).toBe('early\n');
    expect(stderr()).toBe('to stderr\n');
    expect(received.map((f) => [f.type, f.payload.toString()])).toEqual([
      [FRAME.stdin, 'input'],
      [FRAME.eof, ''],
    ]);
    pair.close();
  });

  test("the server's error frame becomes the CLI's sentence", async () => {
    const pair = await socketPair();
    const io = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
    pair.server.end(encodeFrame(FRAME.error, 'the one-off stopped unexpectedly (engine gone); run it again'));
    await expect(attach(pair.client, Buffer.alloc(0), io)).rejects.toThrow(new CliError('The one-off stopped unexpectedly (engine gone); run it again.'));
    pair.close();
  });

  test('a connection that ends before the exit code is an error, not a success', async () => {
    const pair = await socketPair();
    const io = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
    pair.server.end(encodeFrame(FRAME.stdout, 'partial'));
    await expect(attach(pair.client, Buffer.alloc(0), io)).rejects.toThrow('The connection to Slipway closed before the command ended');
    pair.close();
  });
});
