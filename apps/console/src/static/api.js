// The console pages' way to their JSON API: own origin only, the session's CSRF token and the poll interval from
// the page's meta tags. Trusts the server's answers as data (rendered as text), nothing more.
export const csrf = document.querySelector('meta[name="csrf-token"]').content;
export const pollMs = Number(document.querySelector('meta[name="poll-ms"]').content) || 2000;

async function answer(r) {
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}
const jsonPost = (value) => ({ method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(value) });

/** A request that sends a logged-out page back to the login form. */
export async function call(path, init) {
  const r = await fetch(path, { credentials: 'same-origin', ...init });
  if (r.status === 401) {
    location.href = '/login';
    throw new Error('logged out');
  }
  return answer(r);
}
export const get = (path) => call(path, { headers: { accept: 'application/json' } });
/** The dashboard's actions: a refused POST (a 401 too) is an error its caller shows in the flash line. */
export async function post(path, value) {
  return answer(await fetch(path, { credentials: 'same-origin', ...jsonPost(value) }));
}
/** The quarantine's actions: a logged-out page goes back to the login form, as its reads do. */
export const postOrLogin = (path, value) => call(path, jsonPost(value));
