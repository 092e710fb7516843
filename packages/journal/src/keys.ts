// Every Redis key the journal writes, in one place (the README's key table mirrors this file).
// The default prefix carries the hash tag `{journal}`, so the append script's keys share one Cluster slot; on a
// Cluster a custom prefix must carry one too (createJournal checks, else every batch fails with CROSSSLOT).

export const DEFAULT_PREFIX = 'moat:{journal}:';

/** Longest session or queue id used in a key (ids come from the gateway, policyd, or Postfix). */
const MAX_ID = 128;

const idPart = (id: string): string => id.slice(0, MAX_ID);

/** `<prefix>stream`: the decisions (stream, MAXLEN ~ capped, expires `ttl` after the last write). */
export function streamKey(prefix: string): string {
  return `${prefix}stream`;
}

/** `<prefix>s:<session id>`: stream ids of one session's decisions (list, capped, TTL). */
export function sessionKey(prefix: string, sessionId: string): string {
  return `${prefix}s:${idPart(sessionId)}`;
}

/** `<prefix>q:<queue id>`: stream ids of the decisions behind one queued message (list, capped, TTL). */
export function queueKey(prefix: string, queueId: string): string {
  return `${prefix}q:${idPart(queueId)}`;
}

/** The hash tag Redis Cluster hashes every `<prefix>…` key by (the first `{…}`, non-empty), or undefined when
 * the prefix has none (then each key hashes by its own name, and the batch's keys span slots). */
export function prefixHashTag(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open < 0) return undefined;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1 ? prefix.slice(open + 1, close) : undefined;
}
