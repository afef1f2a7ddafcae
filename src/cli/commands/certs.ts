import { readFileSync } from 'node:fs';
import type { DomainCertificate } from '../../api/routes/certs.js';
import type { Command } from '../command.js';
import { firstArg } from '../command.js';
import { CliError } from '../errors.js';
import { printJson, table } from '../output.js';

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read the ${what} file ${file} (${(error as NodeJS.ErrnoException).code}); check the path`);
  }
}

function expiry(iso: string | null): string {
  if (iso === null) return '';
  const days = Math.floor((Date.parse(iso) - Date.now()) / 86_400_000);
  return `${iso.slice(0, 10)} (${days < 0 ? 'expired' : `${days} days`})`;
}

export const certCommands: Command[] = [
  {
    name: 'certs',
    aliases: ['certs:report'],
    summary: "each of the app's domains: its certificate's source (uploaded, auto, default, none), issuer and expiry",
    usage: 'slipway certs [-a APP] [--json]',
    example: 'slipway certs -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const certs = await ctx.api().json<DomainCertificate[]>('GET', `/api/apps/${app}/certs`);
      if (ctx.out.json) return printJson(ctx.out, certs);
      ctx.out.write(
        table(
          ['DOMAIN', 'SOURCE', 'ISSUER', 'EXPIRES', 'LAST ACME ERROR'],
          certs.map((c) => [c.domain, c.source, c.issuer ?? '', expiry(c.expiresAt), c.acmeError ?? '']),
        ),
      );
    },
  },
  {
    name: 'certs:add',
    summary: 'serve an uploaded certificate (PEM, with its chain) and key for the domains it names',
    usage: 'slipway certs:add CERT.pem KEY.pem [-a APP] [--json]',
    example: 'slipway certs:add fullchain.pem privkey.pem -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const certFile = firstArg(ctx, 'Give the certificate and key files: e.g. slipway certs:add fullchain.pem privkey.pem.');
      const keyFile = ctx.args[1];
      if (keyFile === undefined) throw new CliError('Give the key file after the certificate: e.g. slipway certs:add fullchain.pem privkey.pem.', 2);
      const certs = await ctx
        .api()
        .json<DomainCertificate[]>('POST', `/api/apps/${app}/certs`, { cert: readPem(certFile, 'certificate'), key: readPem(keyFile, 'key') });
      if (ctx.out.json) return printJson(ctx.out, certs);
      const served = certs.filter((c) => c.source === 'uploaded').map((c) => c.domain);
      ctx.out.write(`HTTPS for ${served.join(', ')} now uses the uploaded certificate, from the next connection on.\n`);
    },
  },
  {
    name: 'certs:remove',
    summary: "stop serving the app's certificate that covers DOMAIN",
    usage: 'slipway certs:remove DOMAIN [-a APP] [--json]',
    example: 'slipway certs:remove www.example.com -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const domain = firstArg(ctx, 'Give the domain whose certificate to remove: e.g. slipway certs:remove www.example.com.');
      const certs = await ctx.api().json<DomainCertificate[]>('DELETE', `/api/apps/${app}/certs/${encodeURIComponent(domain.trim().toLowerCase())}`);
      if (ctx.out.json) return printJson(ctx.out, certs);
      ctx.out.write(`${app} no longer serves its certificate for ${domain.trim().toLowerCase()}.\n`);
    },
  },
];
