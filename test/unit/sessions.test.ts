import type { IncomingMessage } from 'node:http';
import { LOGIN_LINK_MS, SESSION_MS, Sessions, sessionCookie } from '../../src/api/sessions.js';

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

describe('Sessions', () => {
  let now = 1_000_000;
  let revoked = new Set<string>();
  const sessions = (): Sessions =>
    new Sessions(
      (id) => !revoked.has(id.name),
      () => now,
    );
  beforeEach(() => {
    now = 1_000_000;
    revoked = new Set();
  });

  test('a login link works once, for two minutes, and not after its token is revoked', () => {
    const s = sessions();
    const once = s.createLink({ name: 'ci' });
    expect(s.redeemLink(once.code)).toEqual({ name: 'ci' });
    expect(s.redeemLink(once.code)).toBeUndefined();

    const late = s.createLink({ name: 'ci' });
    now += LOGIN_LINK_MS;
    expect(s.redeemLink(late.code)).toBeUndefined();

    const revokedLink = s.createLink({ name: 'ci' });
    revoked.add('ci');
    expect(s.redeemLink(revokedLink.code)).toBeUndefined();
    expect(s.redeemLink('made-up')).toBeUndefined();
  });

  test('a session is found by its cookie until it expires, is ended, or its token is revoked', () => {
    const s = sessions();
    const { id } = s.start({ name: 'admin' });
    const withCookie = request({ cookie: `other=1; slipway_session=${id}` });
    expect(s.fromRequest(withCookie)?.identity).toEqual({ name: 'admin' });
    expect(s.fromRequest(request({ cookie: 'slipway_session=forged' }))).toBeUndefined();
    expect(s.fromRequest(request({}))).toBeUndefined();
    now += SESSION_MS;
    expect(s.fromRequest(withCookie)).toBeUndefined();

    const second = s.start({ name: 'admin' }).id;
    s.end(request({ cookie: `slipway_session=${second}` }));
    expect(s.fromRequest(request({ cookie: `slipway_session=${second}` }))).toBeUndefined();

    const third = s.start({ name: 'ci' }).id;
    revoked.add('ci');
    expect(s.fromRequest(request({ cookie: `slipway_session=${third}` }))).toBeUndefined();
  });

  test("a change needs this host as Origin and the session's CSRF token", () => {
    const s = sessions();
    const { session } = s.start({ name: 'admin' });
    const ok = { host: '127.0.0.1:7070', origin: 'http://127.0.0.1:7070', 'x-slipway-csrf': session.csrf };
    expect(s.csrfProblem(request(ok), session)).toBeUndefined();
    expect(s.csrfProblem(request({ ...ok, 'sec-fetch-site': 'same-origin' }), session)).toBeUndefined();
    expect(s.csrfProblem(request({ ...ok, origin: 'http://127.0.0.1:9999' }), session)).toBe('origin');
    expect(s.csrfProblem(request({ ...ok, origin: 'null' }), session)).toBe('origin');
    expect(s.csrfProblem(request({ ...ok, 'sec-fetch-site': 'same-site' }), session)).toBe('origin');
    const { origin: _dropped, ...noOrigin } = ok;
    expect(s.csrfProblem(request(noOrigin), session)).toBe('origin');
    expect(s.csrfProblem(request({ ...ok, 'x-slipway-csrf': 'wrong' }), session)).toBe('token');
    const { 'x-slipway-csrf': _none, ...noToken } = ok;
    expect(s.csrfProblem(request(noToken), session)).toBe('token');
  });

  test('the cookie is HttpOnly and SameSite=Strict, Secure when asked, and cleared on logout', () => {
    expect(sessionCookie('abc', false)).toBe(`slipway_session=abc; Max-Age=${SESSION_MS / 1000}; Path=/; HttpOnly; SameSite=Strict`);
    expect(sessionCookie('abc', true)).toContain('; Secure');
    expect(sessionCookie(undefined, false)).toBe('slipway_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict');
  });
});
