// The one `host:port` reader: listeners and services named in config, flags and the environment.
// Trusts nothing: a bad address is a clear error naming where it came from, never a crash later in bind().

export class HostPortError extends Error {}

/**
 * Splits `host:port`, `[v6]:port` or a bare port (then `defaultHost`). A port outside 0..65535, an empty host or
 * anything else is a HostPortError naming `what` (the flag, key or variable the text came from).
 */
export function parseHostPort(s: string, opts: { defaultHost: string; what?: string | undefined }): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(s) ?? /^()()(\d{1,5})$/.exec(s);
  const port = Number(m?.[3]);
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new HostPortError(`${opts.what ? `${opts.what}: ` : ''}expected HOST:PORT, [IPv6]:PORT or PORT, got ${JSON.stringify(s)}`);
  }
  return { host: m[1] || m[2] || opts.defaultHost, port };
}
