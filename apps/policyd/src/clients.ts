// Who may talk to policyd (policyd.clients), and the rate-limited log line for a stranger refused.
// Trusts the socket's peer address (the kernel's); a scanner's connections are counted, never logged one by one.
import type { Logger } from '@moat/observe';
import { type Cidr, cidrContains, parseIp } from '@moat/policy';

/** True when `address` may ask (no list: everyone who reaches the port). */
export function clientAllowed(clients: readonly Cidr[] | undefined, address: string | undefined): boolean {
  if (!clients) return true;
  const a = address === undefined ? undefined : parseIp(address);
  return a !== undefined && clients.some((net) => cidrContains(net, a));
}

/** One log line per stranger per minute (a scanner must not flood the log). */
export function refusalLogger(logger: Logger): (peer: string) => void {
  const seenAt = new Map<string, { at: number; suppressed: number }>();
  return (peer) => {
    const now = performance.now();
    const seen = seenAt.get(peer);
    if (seen && now - seen.at < 60_000) {
      seen.suppressed++;
      return;
    }
    if (seenAt.size >= 10_000) seenAt.clear();
    seenAt.set(peer, { at: now, suppressed: 0 });
    logger.warn(
      { event: 'refused', peer, reason: 'not in policyd.clients', suppressed: seen?.suppressed || undefined },
      'policy connection refused',
    );
  };
}
