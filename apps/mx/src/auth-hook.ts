// AUTH at the gateway: PLAIN/LOGIN after STARTTLS through the authenticator, XCLIENT LOGIN from a trusted
// proxy, and the shared AUTH rate limits. Trusts the authenticator and mx.xclient.trusted_networks only.
import type { SMTPServerOptions } from 'smtp-server';
import { hook } from './hook.ts';
import { inNetworks } from './limits.ts';
import type { MxContext } from './mx-context.ts';
import { bare } from './session-state.ts';

export function authHook(ctx: MxContext): NonNullable<SMTPServerOptions['onAuth']> {
  const { deps, metrics, logger, sessions, rateLimits, xclient } = ctx;
  return (auth, session, callback) => {
    hook('auth', ctx.commandTimeout, logger, callback, async () => {
      const s = sessions.state(session);
      if (auth.method === 'XCLIENT') {
        // XCLIENT LOGIN=name: the proxy authenticated the client (Postfix XCLIENT_README). smtp-server only
        // takes XCLIENT from mx.xclient.trusted_networks; checked again here against the proxy's own address.
        const proxy = bare(String(session.xClient?.get('ADDR:DEFAULT') ?? session.remoteAddress));
        const ok = inNetworks(proxy, xclient) && /^[\x21-\x7e]{1,256}$/.test(auth.username ?? '');
        metrics.auth.inc({ result: ok ? 'xclient' : 'refused' });
        logger.info({ event: 'auth', session: session.id, client: s.peer, proxy, method: 'XCLIENT', user: (auth.username ?? '').slice(0, 128), result: ok ? 'ok' : 'refused' }, 'auth');
        return ok ? { user: auth.username } : { message: '5.7.0 XCLIENT LOGIN not authorized', responseCode: 550 };
      }
      if (!deps.authenticator || !session.secure || (auth.method !== 'PLAIN' && auth.method !== 'LOGIN')) {
        metrics.auth.inc({ result: 'refused' });
        return { message: '5.7.0 Authentication not available', responseCode: 530 };
      }
      // the client's address (XCLIENT's, behind a proxy): one user's bad passwords must not lock out the proxy's others
      const client = bare(session.remoteAddress);
      const limited = await rateLimits?.auth(client);
      if (limited) return limited;
      const r = await deps.authenticator.authenticate(client, auth.username ?? '', auth.password ?? '');
      if (!r.ok && r.reason === 'bad-credentials') await rateLimits?.authFailed(client);
      metrics.auth.inc({ result: r.ok ? 'ok' : r.reason });
      logger.info(
        { event: 'auth', session: session.id, client: s.peer, method: auth.method, user: (auth.username ?? '').slice(0, 128), result: r.ok ? 'ok' : r.reason },
        'auth',
      );
      return r.ok ? { user: r.user } : { message: r.message, responseCode: r.code };
    });
  };
}
