/**
 * A certificate authority made for one test run (openssl CLI): certificates for any host names,
 * valid, expired or not yet valid, each with its key. Tests trust the CA's certificate only.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selfSignedCertificate } from '../../scripts/bench/lib/self-signed.mjs';

export interface IssuedCertificate {
  cert: string;
  key: string;
}

export interface CertOptions {
  /** Days from now the certificate starts being valid (negative: in the past). Default -1. */
  startDays?: number;
  /** Days from now it stops being valid (negative: expired). Default 30. */
  endDays?: number;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function day(offset: number): string {
  // `openssl ca`'s -startdate/-enddate format: YYYYMMDDHHMMSSZ
  return `${new Date(Date.now() + offset * 86_400_000).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

export class TestCa {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-ca-'));
  readonly cert: string;
  private serial = 1;

  constructor(readonly name = 'Slipway Test CA') {
    selfSignedCertificate({ keyFile: path.join(this.dir, 'ca.key'), certFile: path.join(this.dir, 'ca.pem'), days: 30, subject: `/CN=${name}` });
    this.cert = readFileSync(path.join(this.dir, 'ca.pem'), 'utf8');
    // `openssl ca` (unlike `openssl x509`) sets any start and end date.
    writeFileSync(
      path.join(this.dir, 'ca.cnf'),
      '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n[p]\ncommonName = supplied\n',
    );
    writeFileSync(path.join(this.dir, 'index.txt'), '');
    writeFileSync(path.join(this.dir, 'serial'), '1000\n');
  }

  /** A certificate for `hosts` (the first is the CN), signed by this CA. */
  issue(hosts: string[], options: CertOptions = {}): IssuedCertificate {
    const n = this.serial++;
    const ext = path.join(this.dir, `${n}.ext`);
    writeFileSync(ext, `subjectAltName=${hosts.map((h) => `DNS:${h}`).join(',')}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
    openssl(
      ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${n}.key`, '-out', `${n}.csr`, '-subj', `/CN=${hosts[0]}`],
      this.dir,
    );
    openssl(
      ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', `${n}.csr`, '-out', `${n}.pem`, '-notext', '-extfile', ext].concat([
        '-startdate',
        day(options.startDays ?? -1),
        '-enddate',
        day(options.endDays ?? 30),
      ]),
      this.dir,
    );
    return { cert: readFileSync(path.join(this.dir, `${n}.pem`), 'utf8'), key: readFileSync(path.join(this.dir, `${n}.key`), 'utf8') };
  }

  /** Writes a PEM to a file in the CA's folder (for the CLI), returning its path. */
  file(name: string, pem: string): string {
    const file = path.join(this.dir, name);
    writeFileSync(file, pem);
    return file;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
