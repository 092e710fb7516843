import { expect, it } from 'vitest';
import { parseHostPort } from './host-port.ts';

it('reads host:port, [v6]:port and a bare port; names the source of a bad one', () => {
  const d = { defaultHost: '127.0.0.1' };
  expect(parseHostPort('127.0.0.1:9480', d)).toEqual({ host: '127.0.0.1', port: 9480 });
  expect(parseHostPort('[::1]:80', d)).toEqual({ host: '::1', port: 80 });
  expect(parseHostPort('mx.example.org:25', d)).toEqual({ host: 'mx.example.org', port: 25 });
  expect(parseHostPort('9480', d)).toEqual({ host: '127.0.0.1', port: 9480 });
  expect(parseHostPort('25', { defaultHost: '0.0.0.0' })).toEqual({ host: '0.0.0.0', port: 25 });
  expect(() => parseHostPort('nope', { ...d, what: 'MOAT_CONSOLE_LISTEN' })).toThrow(/MOAT_CONSOLE_LISTEN: expected HOST:PORT/);
  expect(() => parseHostPort('h:70000', d)).toThrow(/expected HOST:PORT/);
  for (const bad of ['', ':', 'host', '1.2.3.4:99999', '::1:25', 'a:b', '[::1:80']) expect(() => parseHostPort(bad, d), bad).toThrow();
});
