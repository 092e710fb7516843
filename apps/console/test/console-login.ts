// Test helper: logs in to a running console as its form does (the pre-login CSRF cookie and token), and returns the
// session cookie with the dashboard page it opens. Talks only to the console under test on loopback.
import { expect } from 'vitest';

export async function login(url: string, user: string, password: string): Promise<{ cookie: string; page: string }> {
  const form = await fetch(`${url}/login`);
  const pre = /moat_login=([^;]+)/.exec(form.headers.get('set-cookie') ?? '')![1]!;
  const res = await fetch(`${url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `moat_login=${pre}` },
    body: new URLSearchParams({ csrf: pre, user, password }).toString(),
  });
  expect(res.status).toBe(303);
  const cookie = /moat_session=[^;]+/.exec(res.headers.getSetCookie().join('; '))![0];
  const dashboard = await fetch(`${url}/`, { headers: { cookie } });
  expect(dashboard.status).toBe(200);
  return { cookie, page: await dashboard.text() };
}
