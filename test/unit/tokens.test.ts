import type { IncomingMessage } from 'node:http';
import { generateToken, hashToken, TokenAuth, tokenFrom, type TokenRegistry } from '../../src/auth/tokens.js';

const basic = (userPass: string): string => `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;

describe('tokenFrom', () => {
  test.each<[string, string | undefined, string | undefined]>([
    ['Bearer', 'Bearer slw_abc123', 'slw_abc123'],
    ['bearer in lower case', 'bearer slw_abc123', 'slw_abc123'],
    ['BEARER in upper case', 'BEARER slw_abc123', 'slw_abc123'],
    ['Bearer with trailing whitespace', 'Bearer slw_abc123  ', 'slw_abc123'],
    ['Basic with a user', basic('git:slw_secret'), 'slw_secret'],
    ['Basic with another user', basic('alice:slw_secret'), 'slw_secret'],
    ['Basic with an empty user', basic(':slw_secret'), 'slw_secret'],
    ['basic in lower case', `basic ${Buffer.from('u:tok').toString('base64')}`, 'tok'],
    ['Basic password containing ":" is kept whole', basic('user:pa:ss:word'), 'pa:ss:word'],
    ['Basic password with non-ASCII characters', basic('u:pässwörd'), 'pässwörd'],
    ['undefined header', undefined, undefined],
    ['empty header', '', undefined],
    ['Bearer without a token', 'Bearer', undefined],
    ['Bearer with an empty token', 'Bearer ', undefined],
    ['Basic without credentials', 'Basic', undefined],
    ['Basic with an empty password', basic('user:'), undefined],
    ['Basic without a colon', basic('justatoken'), undefined],
    ['Basic with garbage that is not base64', 'Basic %%%***', undefined],
    ['unknown scheme', 'Token slw_abc123', undefined],
    ['Digest scheme', 'Digest username="a"', undefined],
    ['a bare token without a scheme', 'slw_abc123', undefined],
    ['Bearer with two spaces', 'Bearer  slw_abc123', 'slw_abc123'],
    ['Bearer with a tab', 'Bearer\tslw_abc123', 'slw_abc123'],
  ])('%s', (_name, header, expected) => {
    expect(tokenFrom(header)).toBe(expected);
  });
});

/** Named tokens kept as hashes, as the store keeps them. */
function registry(named: Record<string, string> = {}): TokenRegistry & { revoke(name: string): void } {
  const byHash = new Map(Object.entries(named).map(([name, token]) => [hashToken(token).toString('hex'), name]));
  return {
    tokenNameByHash: (hash) => byHash.get(hash),
    tokenExists: (name) => [...byHash.values()].includes(name),
    revoke: (name) => {
      for (const [hash, n] of byHash) if (n === name) byHash.delete(hash);
    },
  };
}

describe('TokenAuth', () => {
  const auth = new TokenAuth('slw_admin_token', registry());

  test('verify accepts the admin token', () => {
    expect(auth.verify('slw_admin_token')).toEqual({ name: 'admin' });
  });

  test.each([
    ['undefined', undefined],
    ['empty', ''],
    ['a different token', 'slw_other'],
    ['a prefix of the token', 'slw_admin'],
    ['the token with a suffix', 'slw_admin_token2'],
    ['different case', 'SLW_ADMIN_TOKEN'],
    ['the token with whitespace', ' slw_admin_token'],
  ])('verify refuses %s', (_name, token) => {
    expect(auth.verify(token)).toBeUndefined();
  });

  const request = (authorization?: string): IncomingMessage =>
    ({ headers: authorization === undefined ? {} : { authorization } }) as unknown as IncomingMessage;

  test('fromRequest reads Bearer and Basic headers', () => {
    expect(auth.fromRequest(request('Bearer slw_admin_token'))).toEqual({ name: 'admin' });
    expect(auth.fromRequest(request(basic('git:slw_admin_token')))).toEqual({ name: 'admin' });
    expect(auth.fromRequest(request('Bearer wrong'))).toBeUndefined();
    expect(auth.fromRequest(request(basic('slw_admin_token:x')))).toBeUndefined();
    expect(auth.fromRequest(request())).toBeUndefined();
  });
});

describe('hashToken and generateToken', () => {
  test('hashToken is SHA-256', () => {
    expect(hashToken('abc').toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashToken('abc')).toHaveLength(32);
  });

  test('generateToken makes distinct slw_ tokens of 32 base64url characters', () => {
    const a = generateToken();
    const b = generateToken();
    expect(a).toMatch(/^slw_[A-Za-z0-9_-]{32}$/);
    expect(b).toMatch(/^slw_[A-Za-z0-9_-]{32}$/);
    expect(a).not.toBe(b);
    expect(new TokenAuth(a, registry()).verify(a)).toEqual({ name: 'admin' });
    expect(new TokenAuth(a, registry()).verify(b)).toBeUndefined();
  });
});

describe('TokenAuth with named tokens', () => {
  test('a named token is known by its hash, and stops working the moment it is revoked', () => {
    const tokens = registry({ ci: 'slw_ci_token' });
    const auth = new TokenAuth('slw_admin_token', tokens);
    const ci = auth.verify('slw_ci_token');
    expect(ci).toEqual({ name: 'ci' });
    expect(auth.stillValid(ci!)).toBe(true);
    tokens.revoke('ci');
    expect(auth.verify('slw_ci_token')).toBeUndefined();
    expect(auth.stillValid(ci!)).toBe(false);
    expect(auth.stillValid({ name: 'admin' })).toBe(true);
  });
});
