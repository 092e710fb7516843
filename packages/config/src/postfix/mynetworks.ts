// Postfix's mynetworks: the admin's list (addresses, net/masks, [ipv6]/len, /file/name) or, when unset,
// the networks mynetworks_style derives from this host's interfaces (mynetworks.c). Trusts no text.
import { networkInterfaces } from 'node:os';
import { formatIp, parseCidr, parseIp } from '@moat/policy';

export interface NetworkProblem {
  /** The pattern as written. */
  item: string;
  message: string;
  /** true: Postfix never evaluates it here either (an IPv6 pattern with inet_protocols = ipv4); dropped with a warning. */
  harmless: boolean;
}

export interface Networks {
  networks: string[];
  problems: NetworkProblem[];
}

export interface Interface {
  address: string;
  /** Prefix length of the interface's network. */
  prefix: number;
  family: 'IPv4' | 'IPv6';
}

/** This host's interface addresses (os.networkInterfaces()), IPv4 first then IPv6 as Postfix lists them. */
export function hostInterfaces(): Interface[] {
  const out: Interface[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.push({ address: a.address, prefix: Number(a.cidr?.split('/')[1] ?? (a.family === 'IPv4' ? 32 : 128)), family: a.family });
  }
  return [...out.filter((a) => a.family === 'IPv4'), ...out.filter((a) => a.family === 'IPv6')];
}

/** inet_protocols: which address families Postfix uses (`all`, `ipv4`, `ipv6`, a list). */
export function protocolsOf(value: string): { v4: boolean; v6: boolean } {
  const words = value.toLowerCase().split(/[\s,]+/).filter(Boolean);
  const all = words.includes('all');
  return { v4: all || words.includes('ipv4'), v6: all || words.includes('ipv6') };
}

/** An interface address with its host bits cleared, as Postfix prints it (mask_addr + inet_ntop). */
function network(address: string, prefix: number, v6: boolean): string | undefined {
  const ip = parseIp(address.replace(/%.*$/, ''));
  if (!ip) return undefined;
  const bytes = new Uint8Array(ip.bytes);
  const bits = v6 ? prefix : 96 + prefix;
  for (let i = bits; i < 128; i++) bytes[i >> 3]! &= ~(0x80 >> (i & 7));
  const text = formatIp({ v4: !v6, bytes });
  return v6 ? `[${text}]/${prefix}` : `${text}/${prefix}`;
}

/**
 * mynetworks' default: mynetworks_style `host` (each address), `subnet` (each interface's network) or
 * `class` (the IPv4 class A/B/C/D network; IPv6 as subnet), over the interfaces of inet_protocols.
 */
export function defaultNetworks(style: string, protocols: string, interfaces: readonly Interface[] = hostInterfaces()): Networks | string {
  const s = style.trim().toLowerCase();
  if (s !== 'host' && s !== 'subnet' && s !== 'class') return `mynetworks_style must be host, subnet or class; found ${JSON.stringify(style)}`;
  const { v4, v6 } = protocolsOf(protocols);
  const networks: string[] = [];
  for (const i of interfaces) {
    let n: string | undefined;
    if (i.family === 'IPv4' && v4) {
      let prefix = s === 'host' ? 32 : i.prefix;
      if (s === 'class') {
        // the natural class A/B/C/D network (IN_CLASSA_NSHIFT ...)
        const first = Number(i.address.split('.')[0]);
        prefix = first < 128 ? 8 : first < 192 ? 16 : first < 224 ? 24 : 4;
      }
      n = network(i.address, prefix, false);
    } else if (i.family === 'IPv6' && v6) {
      n = network(i.address, s === 'host' ? 128 : i.prefix, true); // no classes in IPv6: class is subnet
    }
    if (n !== undefined) networks.push(n);
  }
  return { networks, problems: [] };
}

/**
 * The admin's mynetworks value (expanded), in Postfix's syntax: `addr`, `addr/len`, `[v6addr]`,
 * `[v6addr]/len`, `/file/name` (read with `read`, same syntax, `#` comments). `type:table`, `!pattern`
 * and host names are refused: moat's list holds networks only.
 */
export function parseNetworks(value: string, protocols: string, read: (path: string) => string, depth = 0): Networks {
  const { v6 } = protocolsOf(protocols);
  const networks: string[] = [];
  const problems: NetworkProblem[] = [];
  for (const item of value.split(/[\s,]+/).filter(Boolean)) {
    if (item.startsWith('/')) {
      let text: string;
      try {
        text = read(item);
      } catch (e) {
        problems.push({ item, message: `cannot read the pattern file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, harmless: false });
        continue;
      }
      if (depth > 5) {
        problems.push({ item, message: 'pattern files nest too deep', harmless: false });
        continue;
      }
      const inner = parseNetworks(text.split('\n').filter((l) => !/^\s*#/.test(l)).join(' '), protocols, read, depth + 1);
      networks.push(...inner.networks);
      problems.push(...inner.problems);
      continue;
    }
    if (item.startsWith('!')) {
      problems.push({ item, message: 'exclusions (!pattern) are not supported in moat\'s mynetworks; list the networks to trust', harmless: false });
      continue;
    }
    if (/^[a-z0-9_]+:/i.test(item) && !item.startsWith('[') && !/^[0-9a-f:]+(\/\d+)?$/i.test(item)) {
      problems.push({ item, message: 'lookup tables (type:table) are not supported in moat\'s mynetworks; list the networks, or a /file/name of them', harmless: false });
      continue;
    }
    const ipv6ish = item.includes(':');
    const bare = item.replace(/^\[([^\]]*)\](\/\d+)?$/, '$1$2');
    const text = bare.includes('/') ? bare : `${bare}/${ipv6ish ? 128 : 32}`;
    const cidr = parseCidr(text);
    if (cidr === undefined) {
      if (ipv6ish && !v6) {
        problems.push({ item, message: `not a valid IPv6 network; Postfix never matches it (inet_protocols = ${protocols}: no IPv6 clients), so moat drops it`, harmless: true });
      } else if (!ipv6ish && /[a-z]/i.test(item)) {
        problems.push({ item, message: 'host names are not networks: Postfix matches mynetworks against the client address only, so this never matches; write the address', harmless: false });
      } else {
        problems.push({ item, message: 'not a network (address or address/prefix with the host bits zero)', harmless: false });
      }
      continue;
    }
    networks.push(ipv6ish ? `[${text.split('/')[0]}]/${text.split('/')[1]}` : text);
  }
  return { networks, problems };
}
