import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { closeSocketPath, listenOnSocketPath } from '../../src/net/unix-socket.js';

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-socket-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function connect(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath, () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('listenOnSocketPath / closeSocketPath', () => {
  test('a stale socket file left by a crashed server is replaced, and close removes the file', async () => {
    const socketPath = path.join(dir, 'a.sock');
    // A server SIGKILLed while listening leaves its socket file, which nothing accepts on.
    const crashed = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`]);
    await new Promise((resolve) => crashed.stdout.once('data', resolve));
    crashed.kill('SIGKILL');
    await new Promise((resolve) => crashed.once('exit', resolve));
    expect(existsSync(socketPath)).toBe(true);

    const accepted: net.Socket[] = [];
    const server = net.createServer((socket) => accepted.push(socket));
    await listenOnSocketPath(server, socketPath);
    const client = await connect(socketPath);
    const clientClosed = new Promise((resolve) => client.once('close', resolve));
    await new Promise((r) => setImmediate(r));

    // An open connection would keep server.close() waiting: close ends it first.
    await closeSocketPath(server, socketPath, accepted);
    await clientClosed;
    expect(server.listening).toBe(false);
    expect(existsSync(socketPath)).toBe(false);
  }, 10_000);

  test('a path that cannot be listened on rejects with the error', async () => {
    const server = net.createServer();
    await expect(listenOnSocketPath(server, path.join(dir, 'missing', 'a.sock'))).rejects.toThrow(/listen E/);
  });
});
