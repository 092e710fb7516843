// Folds envelope addresses so that a sender's retry of the same message maps to the same triplet.
// Trusts nothing: the input is what a remote client wrote in MAIL FROM / RCPT TO.

/** Max length kept of any address (RFC 5321 path limit); longer input is cut, never rejected here. */
const MAX = 256;

function split(address: string): { local: string; domain: string } {
  const a = address.trim().replace(/^<|>$/g, '').toLowerCase().slice(0, MAX);
  const at = a.lastIndexOf('@');
  if (at < 0) return { local: a, domain: '' };
  return { local: a.slice(0, at), domain: a.slice(at + 1) };
}

// BATV (draft-levine-smtp-batv): prvs=TAG=user, tag = 1 key digit, 3 day digits, 6 hex.
// Some MTAs write it the other way round (prvs=user=TAG); msprvs1= is Microsoft's variant.
const PRVS = /^(?:prvs|msprvs\d*)=([^=]+)=(.+)$/;
const PRVS_TAG = /^\d{4}[0-9a-f]{6}$/;
// btv1==TAG==user (Barracuda/others).
const BTV1 = /^btv1==[^=]*==(.+)$/;
// SRS (Shevek's scheme, used by postsrsd/Exim/Sendmail): SRS0=HHH=TT=orig-domain=orig-local
const SRS0 = /^srs0[=+-][^=]*=[^=]*=([^=]+)=(.+)$/;
// SRS1=HHH=first-forwarder==HHH=TT=orig-domain=orig-local
const SRS1 = /^srs1[=+-][^=]*=[^=]*==[^=]*=[^=]*=([^=]+)=(.+)$/;
const BOUNCE_PREFIX = /^(bounces?|bnc|return|rtn|bo|msgid|mailer-bounces?)([-=._+])/;

/**
 * A local-part token that changes per message: all digits, a hex run of 8+ with a digit, or a long
 * mixed letters/digits token (VERP ids, list-message ids, ESP bounce ids).
 */
function perMessage(token: string): boolean {
  if (/^\d+$/.test(token)) return true;
  if (token.length >= 8 && /^[0-9a-f]+$/.test(token) && /\d/.test(token)) return true;
  if (token.length >= 16 && /^[a-z0-9]+$/.test(token) && /\d/.test(token) && /[a-z]/.test(token)) return true;
  return false;
}

function foldTokens(local: string): string {
  const bounce = BOUNCE_PREFIX.exec(local);
  const parts = local.split(/([-=._])/);
  let out = '';
  for (const p of parts) {
    if (p.length === 1 && /[-=._]/.test(p)) out += p;
    // After a bounces- style prefix, any token with a digit is a per-message id.
    else if (perMessage(p) || (bounce && out.length >= (bounce[1]?.length ?? 0) + 1 && /\d/.test(p))) out += '#';
    else out += p;
  }
  return out;
}

function unwrap(local: string, domain: string): { local: string; domain: string } {
  // Peel BATV and SRS layers (they nest: SRS of a BATV address is common) at most a few times.
  for (let i = 0; i < 4; i++) {
    let m = SRS1.exec(local) ?? SRS0.exec(local);
    if (m?.[1] && m[2]) {
      domain = m[1];
      local = m[2];
      continue;
    }
    m = BTV1.exec(local);
    if (m?.[1]) {
      local = m[1];
      continue;
    }
    m = PRVS.exec(local);
    if (m?.[1] && m[2]) {
      local = PRVS_TAG.test(m[1]) || !PRVS_TAG.test(m[2]) ? m[2] : m[1];
      continue;
    }
    break;
  }
  return { local, domain };
}

/**
 * The sender part of a triplet: lower-cased, BATV/SRS peeled, `+ext` stripped, per-message tokens
 * folded to `#`. The null sender stays `<>`.
 */
export function normalizeSender(sender: string): string {
  if (sender.trim() === '' || sender.trim() === '<>') return '<>';
  const s = split(sender);
  const u = unwrap(s.local, s.domain);
  let local = u.local;
  const plus = local.indexOf('+');
  if (plus > 0) local = local.slice(0, plus);
  local = foldTokens(local);
  return u.domain ? `${local}@${u.domain}` : local;
}

/** The recipient part of a triplet: lower-cased, `+ext` stripped. */
export function normalizeRecipient(recipient: string): string {
  const r = split(recipient);
  let local = r.local;
  const plus = local.indexOf('+');
  if (plus > 0) local = local.slice(0, plus);
  return r.domain ? `${local}@${r.domain}` : local;
}

/** The domain of an envelope address as written (for SPF: the forwarder's domain, not the SRS payload). */
export function addressDomain(address: string): string {
  return split(address).domain;
}
