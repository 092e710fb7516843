// Parses listen addresses from the command line and config.

/** `host:port`, `[v6]:port` or a bare port (then 127.0.0.1: a policy port is never public by accident). */
export function splitHostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s) ?? /^()()(\d{1,5})$/.exec(s);
  const port = Number(m?.[3]);
  if (!m || !(port >= 0 && port < 65536)) throw new Error(`expected HOST:PORT, [IPv6]:PORT or PORT, got ${JSON.stringify(s)}`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}
