// The contract smtp-hooks.ts relies on: smtp-server's connection internals of the pinned version. smtp-server
// offers no option or hook for what the module does (enhanced codes on its own replies, command gate, greeting
// pause, per-connection idle timeouts, eviction at the connection limit, serving a socket accepted elsewhere), so the
// patch stays, pinned and checked here; an upgrade that moves these names fails this test before it fails a session.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const pinned = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }).dependencies['smtp-server'];
const installed = (require('smtp-server/package.json') as { version: string }).version;

it('runs against the smtp-server version package.json pins, the one smtp-hooks.ts names', () => {
  expect(installed).toBe(pinned);
  expect(readFileSync(new URL('smtp-hooks.ts', import.meta.url), 'utf8')).toContain(`pinned version (${pinned})`);
});

it("finds the connection internals it patches and calls on smtp-server's SMTPConnection", () => {
  const proto = SMTPConnection.prototype as unknown as Record<string, unknown>;
  // replaced by the module
  for (const name of ['init', '_onCommand', '_armTimeout', '_onClose', 'send']) expect(typeof proto[name], name).toBe('function');
  // called by the module
  for (const name of ['_onTimeout', '_setListeners', 'connectionReady', 'close']) expect(typeof proto[name], name).toBe('function');
  // the command loop hands each command line to _onCommand(command, callback)
  expect((proto._onCommand as (...a: unknown[]) => unknown).length).toBeGreaterThanOrEqual(1);
});

it("hands a socket accepted elsewhere to smtp-server through its net.Server's 'connection' listener", () => {
  const server = new SMTPServer({ logger: false });
  // serveSocket emits 'connection' on server.server: smtp-server must be listening for it from construction
  expect(server.server.listenerCount('connection')).toBe(1);
  // the stress state counts server.connections, and the session time limit finds a session's connection there
  expect(server.connections).toBeInstanceOf(Set);
});
