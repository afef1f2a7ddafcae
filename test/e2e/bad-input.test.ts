import http from 'node:http';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { TestApp } from '../support/app.js';
import { appContainers } from '../support/docker.js';
import { BUSYBOX_DOCKERFILE, WEB } from '../support/fixtures.js';
import { ServerSuite, type TestServer } from '../support/server.js';

/**
 * Bad input, row by row: each row is what a user sends and the sentence they must get back.
 * Nothing may be stored half-way: no container runs after a refused push.
 */

const NAME = 'input-app';
const suite = new ServerSuite([NAME]);
let server: TestServer;
let app: TestApp;

beforeAll(async () => {
  ({ server } = await suite.start());
  app = suite.app({ Dockerfile: BUSYBOX_DOCKERFILE, Procfile: `web: ${WEB}\n` });
}, 60_000);

afterAll(() => suite.stop(), 60_000);

const procfileRows: [string, string | Buffer, string][] = [
  ['a line without a colon', 'web node server.js\n', 'Procfile line 1: expected "type: command" but found no colon in "web node server.js"'],
  ['a duplicate process type', `web: ${WEB}\nweb: sleep 1\n`, 'Procfile line 2: process type "web" is already defined on line 1; keep one definition'],
  ['an invalid process type name', 'we b: sleep 1\n', 'Procfile line 1: "we b" is not a valid process type'],
  ['an empty command', 'web:\n', 'Procfile line 1: "web:" has no command; write the command to run after the colon'],
  [
    'non-UTF-8 bytes',
    Buffer.from([0x77, 0x65, 0x62, 0x3a, 0x20, 0xff, 0xfe, 0x0a]),
    'Procfile: the file is not valid UTF-8; save it as UTF-8 text and push again',
  ],
  ['a 1 MB line', `web: echo ${'x'.repeat(1024 * 1024)}\n`, 'Procfile line 1: the "web" command is 1048581 characters long; keep it under 32768'],
  ['only postdeploy', 'postdeploy: echo hi\n', 'Procfile: only "postdeploy:" is defined; add a process to run'],
  ['51 process types', Array.from({ length: 51 }, (_, i) => `p${i}: sleep 1`).join('\n'), 'Procfile line 51: more than 50 process types are defined'],
  ['10 000 lines without a process', '# nothing\n'.repeat(10_000), 'Procfile: no process type is defined; add a line such as "web: node server.js"'],
];

test.each(procfileRows)(
  'Procfile with %s is refused: build-error, and nothing runs',
  async (_case, procfile, message) => {
    await app.commit(`procfile: ${_case}`, { Procfile: procfile });
    const result = await app.push(server.remote(NAME));
    expect(result.exitCode).not.toBe(0);
    expect(result.output).toContain('! [remote rejected] main -> main (build-error)');
    expect(result.remote.join('\n')).toContain(message);
    expect(await appContainers(NAME)).toEqual([]);
  },
  60_000,
);

test('a Procfile with CRLF endings and a byte-order mark is accepted', async () => {
  await app.commit('crlf and bom', { Procfile: `\uFEFFweb: ${WEB}\r\n# comment\r\n` });
  const result = await app.push(server.remote(NAME));
  expect(result.exitCode).toBe(0);
}, 60_000);

const gitRows: [string, () => string, string][] = [
  ['an upper-case app name', () => server.remote('MyApp'), '"MyApp" is not a valid app name: use 2 to 39 lowercase letters'],
  ['a unicode app name', () => server.remote('café'), 'is not a valid app name'],
  ['a 200-character app name', () => server.remote('a'.repeat(200)), 'is not a valid app name'],
  ['an encoded dot-dot app name', () => server.remote('%2e%2e'), '"%2e%2e" is not a valid app name'],
  ['no token', () => `http://127.0.0.1:${server.port}/${NAME}.git`, 'terminal prompts disabled'],
  ['a wrong token', () => server.remote(NAME, 'wrong-token'), 'Authentication failed'],
  ['a token in the URL path', () => `http://127.0.0.1:${server.port}/${server.token}/${NAME}.git`, 'Not a git endpoint'],
];

test.each(gitRows)(
  'a push with %s is refused with a message',
  async (_case, remote, message) => {
    const result = await app.push(remote());
    expect(result.exitCode).not.toBe(0);
    expect(result.output).toContain(message);
  },
  60_000,
);

test('request paths that try to leave the repositories directory create nothing and answer 400 or 404', async () => {
  const paths = ['/../../etc.git/info/refs?service=git-receive-pack', '/..%2F..%2Fetc.git/info/refs?service=git-receive-pack', '/%2e%2e.git/git-receive-pack'];
  for (const p of paths) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: server.port,
          path: p,
          method: p.includes('git-receive-pack?') || p.endsWith('/info/refs') ? 'GET' : 'POST',
          headers: { authorization: `Bearer ${server.token}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect({ path: p, refused: status === 400 || status === 404 }).toEqual({ path: p, refused: true });
  }
  const repos = path.join(server.dataDir, 'repos');
  expect(readdirSync(repos).sort()).toEqual([`${NAME}.git`]);
  expect(existsSync(path.join(server.dataDir, 'etc.git'))).toBe(false);
}, 60_000);

const apiRows: [string, string, unknown, number, string][] = [
  ['an env name starting with a digit', 'PATCH', { '1BAD': 'x' }, 400, '"1BAD" is not a valid variable name'],
  ['an env name with a dash', 'PATCH', { 'A-B': 'x' }, 400, '"A-B" is not a valid variable name'],
  ['a reserved env name', 'PATCH', { PORT: '80' }, 400, 'PORT is set by Slipway in every container and cannot be changed'],
  ['a SLIPWAY_ env name', 'PATCH', { SLIPWAY_X: '1' }, 400, 'SLIPWAY_X is set by Slipway'],
  ['a number as value', 'PATCH', { A: 1 }, 400, 'the value of A must be a string, or null to remove it'],
  ['a body that is not JSON', 'PATCH', '{oops', 400, 'the request body is not valid JSON'],
  ['a JSON array body', 'PATCH', '[]', 400, 'the request body must be a JSON object'],
  ['a 2 MB body', 'PATCH', JSON.stringify({ A: 'x'.repeat(2 * 1024 * 1024) }), 413, 'the request body is over 1048576 bytes'],
];

test.each(apiRows)(
  'the API refuses %s, and stores nothing',
  async (_case, method, body, status, message) => {
    const before = await server.api('GET', `/api/apps/${NAME}/env`);
    const res = await server.api<{ error: string; message: string }>(method, `/api/apps/${NAME}/env`, body);
    expect(res.status).toBe(status);
    expect(res.body.message).toContain(message);
    expect(await server.api('GET', `/api/apps/${NAME}/env`)).toEqual(before);
  },
  60_000,
);
