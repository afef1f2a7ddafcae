/**
 * A real ACME server for one test file: Debian's pebble (RFC 8555 test CA) with
 * pebble-challtestsrv as its DNS, which answers 127.0.0.1 for every name, so pebble validates
 * HTTP-01 challenges against the router's HTTP port on this machine. scripts/setup installs both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { selfSignedCertificate } from '../../scripts/bench/lib/self-signed.mjs';
import { freePort } from './server.js';

export interface Pebble {
  /** The ACME directory URL (HTTPS, with the certificate in `directoryCaFile`). */
  directory: string;
  /** PEM file of the certificate pebble's own HTTPS endpoints use: give it to Slipway as NODE_EXTRA_CA_CERTS. */
  directoryCaFile: string;
  /** Starts pebble (and its DNS) with its HTTP-01 port set to the router's HTTP port. */
  start(httpPort: number): Promise<void>;
  /** The root that signs the certificates pebble issues (a new one at every start): only the test's clients trust it. */
  root(): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  /** Names pebble refuses to issue for (its own policy error names them). */
  blocklist?: string[];
  /** Seconds the certificates it issues are valid (pebble's default: five years). */
  validitySeconds?: number;
  /** External Account Binding required, with these key IDs and their HMAC keys (base64url). */
  externalAccountMACKeys?: Record<string, string>;
}

/** Prepares pebble's directory certificate and ports; nothing runs until start(). */
export async function preparePebble(options: PebbleOptions = {}): Promise<Pebble> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-pebble-'));
  const directoryCaFile = path.join(dir, 'directory.pem');
  // Self-signed and trusted as it is: the directory is reached as https://127.0.0.1:<port>.
  selfSignedCertificate({
    keyFile: path.join(dir, 'directory.key'),
    certFile: directoryCaFile,
    days: 2,
    subject: '/CN=pebble directory',
    subjectAltName: 'IP:127.0.0.1,DNS:localhost',
  });
  const [acmePort, managementPort, dnsPort, dnsManagementPort, tlsPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const directoryCa = readFileSync(directoryCaFile, 'utf8');
  const children: ChildProcess[] = [];
  let output = '';

  const run = (command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess => {
    const child = spawn(command, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    children.push(child);
    return child;
  };

  const get = (url: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = https.get(url, { ca: directoryCa, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url}`)));
      req.on('error', reject);
    });

  const directory = `https://127.0.0.1:${acmePort}/dir`;
  return {
    directory,
    directoryCaFile,
    async start(httpPort) {
      const config = {
        pebble: {
          listenAddress: `127.0.0.1:${acmePort}`,
          managementListenAddress: `127.0.0.1:${managementPort}`,
          certificate: path.join(dir, 'directory.pem'),
          privateKey: path.join(dir, 'directory.key'),
          httpPort,
          // TLS-ALPN-01 is not used; the port only has to be one nothing else answers on.
          tlsPort,
          ocspResponderURL: '',
          externalAccountBindingRequired: options.externalAccountMACKeys !== undefined,
          externalAccountMACKeys: options.externalAccountMACKeys ?? {},
          domainBlocklist: options.blocklist ?? [],
          ...(options.validitySeconds === undefined ? {} : { certificateValidityPeriod: options.validitySeconds }),
        },
      };
      writeFileSync(path.join(dir, 'pebble.json'), JSON.stringify(config));
      const env = { PATH: process.env.PATH, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' };
      // Only A records (127.0.0.1): the router listens on IPv4.
      run(
        'pebble-challtestsrv',
        ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dns01', `127.0.0.1:${dnsPort}`].concat([
          '-http01',
          '',
          '-https01',
          '',
          '-tlsalpn01',
          '',
          '-management',
          `127.0.0.1:${dnsManagementPort}`,
        ]),
        env,
      );
      run('pebble', ['-config', 'pebble.json', '-dnsserver', `127.0.0.1:${dnsPort}`], env);
      const deadline = Date.now() + 20_000;
      for (;;) {
        const exited = children.find((c) => c.exitCode !== null);
        if (exited) throw new Error(`${exited.spawnfile} exited early:\n${output}`);
        try {
          if ((await get(directory)).status === 200) return;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`pebble did not answer at ${directory}:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async root() {
      const { status, body } = await get(`https://127.0.0.1:${managementPort}/roots/0`);
      if (status !== 200) throw new Error(`pebble's /roots/0 answered ${status}: ${body}`);
      return body;
    },
    output: () => output,
    async stop() {
      await Promise.all(
        children.map(async (child) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
        }),
      );
      children.length = 0;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
