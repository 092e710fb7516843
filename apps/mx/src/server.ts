// The SMTP gateway assembled: smtp-server's options (limits, STARTTLS, AUTH), its hooks from the session rooms
// (connection.ts, command-gate.ts, auth-hook.ts, end-of-data.ts), the listener. Talks to clients; trusts MxDeps.
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { authHook } from './auth-hook.ts';
import { commandGate, envelopeHooks, heloCheck } from './command-gate.ts';
import { connectionHooks, createStressControl } from './connection.ts';
import { dataHook } from './end-of-data.ts';
import { createContext } from './mx-context.ts';
import type { Mx, MxDeps } from './mx-deps.ts';
import { registerServer, serveSocket } from './smtp-hooks.ts';

export type { Mx, MxDeps, PolicyEngine } from './mx-deps.ts';

/** Client sockets that reset or time out are routine on an MX: not errors of ours. */
const ROUTINE = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ERR_SSL_WRONG_VERSION_NUMBER']);

export function createMx(deps: MxDeps): Mx {
  const { settings, logger } = deps;
  const ctx = createContext(deps, () => server);
  const stress = createStressControl(ctx);
  const baseDisabled = ['VRFY', 'EXPN', ...(deps.tls ? [] : ['STARTTLS'])];

  const options: SMTPServerOptions = {
    name: settings.hostname,
    banner: settings.banner,
    heloResponse: '%s',
    size: settings.limits.maxMessageSize,
    rejectOversized: false,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !deps.submission,
    authRequiredMessage: '5.7.0 Authentication required',
    allowInsecureAuth: false,
    disabledCommands: [...baseDisabled, ...(deps.authenticator ? [] : ['AUTH'])],
    hideSTARTTLS: !deps.tls,
    hidePIPELINING: false,
    hide8BITMIME: false,
    hideSMTPUTF8: false,
    hideENHANCEDSTATUSCODES: false,
    hideDSN: true,
    hideREQUIRETLS: true,
    disableReverseLookup: true,
    logger: false,
    maxClients: settings.limits.maxClients,
    useXClient: ctx.xclient.length > 0,
    socketTimeout: settings.limits.idleTimeoutMs,
    closeTimeout: 5000,
    maxCommandLength: settings.limits.maxLineLength,
    maxRecipients: settings.limits.maxRecipients,
    ...(deps.tls ?? {}),
    ...connectionHooks(ctx, stress, baseDisabled),
    onAuth: authHook(ctx),
    ...envelopeHooks(ctx),
    onData: dataHook(ctx),
  };

  const server = new SMTPServer(options);
  registerServer(server, commandGate(ctx), {
    greetPauseMs: settings.limits.greetPauseMs,
    errorLimit: settings.limits.maxErrors,
    policy: stress.policy,
    heloCheck: heloCheck(ctx),
  });
  server.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code && ROUTINE.has(e.code)) logger.debug({ event: 'client-socket', code: e.code }, 'client socket error');
    else logger.warn({ event: 'server-error', err: e }, 'smtp server error');
  });

  return {
    server,
    metrics: ctx.metrics,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.server.address() as AddressInfo);
        });
      });
    },
    accept(socket) {
      serveSocket(server, socket);
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
