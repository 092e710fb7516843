// The X-Greylist header prepended to a message that passed after its delay (postgrey's format).
// Trusts its inputs: the host is ours, the time comes from the decision.
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** RFC 5322 date-time in UTC: `Tue, 24 Nov 2026 11:05:00 +0000`. */
export function rfc5322Date(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** `X-Greylist: delayed 61 seconds by moat-greylist at mx1.example.net; Tue, 24 Nov 2026 11:05:00 +0000` */
export function greylistHeader(delayedSeconds: number, host: string, epochSeconds: number): string {
  return `X-Greylist: delayed ${delayedSeconds} seconds by moat-greylist at ${host}; ${rfc5322Date(epochSeconds)}`;
}
