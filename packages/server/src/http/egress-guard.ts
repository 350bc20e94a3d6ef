/**
 * Where Writ may connect when it sends a request on someone's behalf: to a resource's upstream, an MCP server, a
 * Shared Signals receiver's push endpoint, an identity provider's discovery document or key set. Whoever registers
 * such a URL (an operator's admin token, a receiver's token) must not be able to point Writ at what only Writ can
 * reach — its own listeners, the host's loopback services, the cloud's metadata endpoint, the private network — and
 * have it send requests there, credentials injected.
 *
 * The check is on the address actually connected to, not on the URL's spelling: a name is resolved once and only
 * its allowed addresses are handed to the connection (so a name that resolves to a refused address, or re-resolves
 * to one later, fails), an IP literal is checked before connecting (`127.1`, `0x7f000001`, `2130706433` all reach
 * here as `127.0.0.1`: the URL parser normalises them), IPv6 forms that embed an IPv4 address (`::ffff:127.0.0.1`,
 * NAT64, 6to4) are judged by the address they embed, and the connected socket's peer is checked once more before a
 * byte of the request is written. Redirects are never followed by the clients built on this (undici's `request`
 * does not follow; the bounded fetch refuses them).
 *
 * Operators allow what they mean to reach in `egress.allow`: address ranges (`10.20.0.0/16`, `fd12::/48`), single
 * addresses, or host names (a name is then trusted to resolve where its owner says). Writ's own listeners stay
 * refused whatever is allowed.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';

/** A connection Writ refused to make; `reason` names the rule (loopback, private, metadata, Writ's own listener…). */
export class EgressRefusedError extends Error {
  readonly code = 'ERR_EGRESS_REFUSED';
  readonly host: string;
  readonly address: string;
  readonly reason: string;
  constructor(host: string, address: string, reason: string) {
    super(`egress to ${host}${host === address ? '' : ` (${address})`} refused: ${reason}`);
    this.name = 'EgressRefusedError';
    this.host = host;
    this.address = address;
    this.reason = reason;
  }
}

/** Address ranges refused by default, and why: nothing here is a public service. */
const REFUSED: readonly [string, number, 'ipv4' | 'ipv6', string][] = [
  ['0.0.0.0', 8, 'ipv4', 'this network'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'shared address space (carrier NAT, some cloud metadata)'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'IETF protocol assignments (some cloud metadata)'],
  ['192.0.2.0', 24, 'ipv4', 'documentation'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking'],
  ['198.51.100.0', 24, 'ipv4', 'documentation'],
  ['203.0.113.0', 24, 'ipv4', 'documentation'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved (broadcast)'],
  ['168.63.129.16', 32, 'ipv4', 'cloud metadata (Azure)'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['::', 96, 'ipv6', 'IPv4-compatible (deprecated)'],
  ['64:ff9b:1::', 48, 'ipv6', 'local-use NAT64'],
  ['100::', 64, 'ipv6', 'discard'],
  ['2001:db8::', 32, 'ipv6', 'documentation'],
  ['fc00::', 7, 'ipv6', 'unique local (cloud metadata)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['fec0::', 10, 'ipv6', 'site-local (deprecated)'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

const RULES: readonly { list: BlockList; reason: string }[] = REFUSED.map(([net, prefix, type, reason]) => {
  const list = new BlockList();
  list.addSubnet(net, prefix, type);
  return { list, reason };
});

export interface EgressGuardOptions {
  /** Ranges (`10.0.0.0/8`), addresses and host names Writ may connect to although the default refuses them. */
  allow: readonly string[];
  /** Writ's own listening sockets, read at connection time (they exist only once the server listens). */
  ownListeners?: () => readonly { address: string; port: number }[];
}

export class EgressGuard {
  readonly #allowed = new BlockList();
  readonly #allowedHosts = new Set<string>();
  readonly #own: () => readonly { address: string; port: number }[];

  constructor(o: EgressGuardOptions) {
    for (const entry of o.allow) {
      const slash = entry.indexOf('/');
      const address = slash === -1 ? entry : entry.slice(0, slash);
      const family = isIP(address);
      if (family === 0) {
        this.#allowedHosts.add(entry.toLowerCase());
        continue;
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (slash === -1) this.#allowed.addAddress(address, type);
      else this.#allowed.addSubnet(address, Number(entry.slice(slash + 1)), type);
    }
    this.#own = o.ownListeners ?? (() => []);
  }

  /** Why `address` (which `host` resolved to or spells) may not be connected to on `port`; undefined when it may. */
  refusal(host: string, address: string, port?: number): string | undefined {
    const family = isIP(address);
    if (family === 0) return 'not an IP address';
    if (port !== undefined && this.#isOwnListener(address, port)) return "one of Writ's own listeners";
    if (this.#allowedHosts.has(host.toLowerCase())) return undefined;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.#allowed.check(address, type)) return undefined;
    // An IPv6 address that carries an IPv4 one is what that IPv4 address is.
    const embedded = type === 'ipv6' ? embeddedIpv4(address) : undefined;
    if (embedded !== undefined) return this.refusal(host === address ? embedded : host, embedded, port);
    for (const rule of RULES) if (rule.list.check(address, type)) return rule.reason;
    return undefined;
  }

  /** A `dns.lookup` that hands the connection only addresses it may use, and fails when there is none. */
  readonly lookup = (
    hostname: string,
    options: LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err !== null) return callback(err, []);
      const usable = addresses.filter((a) => this.refusal(hostname, a.address) === undefined);
      const first = usable[0];
      if (first === undefined) {
        const a = addresses[0];
        const refused = new EgressRefusedError(
          hostname,
          a?.address ?? '?',
          a === undefined ? 'no address' : (this.refusal(hostname, a.address) ?? ''),
        );
        return callback(refused, []);
      }
      if (options.all === true) callback(null, usable);
      else callback(null, first.address, first.family);
    });
  };

  /** An undici connector that connects only where this guard allows (see the file comment for how). */
  connector(options: { timeout?: number; ca?: string } = {}): buildConnector.connector {
    const base = buildConnector({ ...options, lookup: this.lookup });
    return (opts, callback) => {
      const host = opts.hostname.startsWith('[') ? opts.hostname.slice(1, -1) : opts.hostname;
      const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
      if (isIP(host) !== 0) {
        const why = this.refusal(host, host, port);
        if (why !== undefined) {
          callback(new EgressRefusedError(host, host, why), null);
          return;
        }
      }
      base(opts, (err, socket) => {
        if (err !== null || socket === null) {
          callback(err ?? new Error('no socket'), null);
          return;
        }
        const peer = socket.remoteAddress ?? '';
        const why = this.refusal(host, peer, port);
        if (why !== undefined) {
          socket.destroy();
          callback(new EgressRefusedError(host, peer, why), null);
          return;
        }
        callback(null, socket);
      });
    };
  }

  /** An undici Agent whose every connection passes this guard. */
  agent(options: Agent.Options & { connectTimeout?: number; ca?: string } = {}): Agent {
    const { connectTimeout, ca, ...rest } = options;
    return new Agent({
      ...rest,
      connect: this.connector({
        ...(connectTimeout !== undefined ? { timeout: connectTimeout } : {}),
        ...(ca !== undefined ? { ca } : {}),
      }),
    });
  }

  /**
   * `fetch` through a guarded Agent, for the bounded fetcher (which refuses redirects); `ca` replaces the trusted
   * certificate authorities (PEM) for these connections only.
   */
  fetch(options: { ca?: string } = {}): typeof fetch {
    const dispatcher = this.agent({ connectTimeout: 10_000, ...options });
    return ((input: string | URL, init?: RequestInit) =>
      undiciFetch(input, { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher })) as unknown as typeof fetch;
  }

  #isOwnListener(address: string, port: number): boolean {
    const own = this.#own();
    if (own.length === 0) return false;
    const peer = normalise(address);
    for (const l of own) {
      if (l.port !== port) continue;
      const listening = normalise(l.address);
      if (listening === peer) return true;
      // Listening on every interface: any of this host's addresses reaches it.
      if ((listening === '0.0.0.0' || listening === UNSPECIFIED_V6) && isLocalAddress(peer)) return true;
    }
    return false;
  }
}

/** An IPv6 address's sixteen bytes as eight groups, or undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  // A dotted IPv4 tail (`::ffff:127.0.0.1`) is the last two groups.
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = text.slice(lastColon + 1).split('.');
    if (v4.length !== 4 || v4.some((n) => !/^\d{1,3}$/.test(n) || Number(n) > 255)) return undefined;
    const [a, b, c, d] = v4.map(Number) as [number, number, number, number];
    tail = [(a << 8) | b, (c << 8) | d];
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0] as string);
  const rest = halves.length === 2 ? parse(halves[1] as string) : [];
  const fill = 8 - tail.length - head.length - rest.length;
  if (halves.length === 1 && fill !== 0) return undefined;
  if (fill < 0) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...rest, ...tail];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/** The IPv4 address an IPv6 one carries: IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) or 6to4 (2002::/16). */
function embeddedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  if (g === undefined) return undefined;
  const v4 = (hi: number, lo: number): string => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  const zero = (from: number, to: number): boolean => g.slice(from, to).every((x) => x === 0);
  if (zero(0, 5) && g[5] === 0xffff) return v4(g[6] as number, g[7] as number);
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return v4(g[6] as number, g[7] as number);
  if (g[0] === 0x2002) return v4(g[1] as number, g[2] as number);
  return undefined;
}

/** One spelling per address: IPv4-mapped IPv6 as its IPv4 address, IPv6 in lower case without a zone. */
function normalise(address: string): string {
  if (isIP(address) === 6) {
    const g = ipv6Groups(address);
    if (g !== undefined && g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return embeddedIpv4(address) as string;
    return g === undefined ? address.toLowerCase() : g.map((x) => x.toString(16)).join(':');
  }
  return address;
}

const UNSPECIFIED_V6 = normalise('::');
const LOOPBACK_V6 = normalise('::1');

/** `address` (normalised) is one of this host's own. */
function isLocalAddress(address: string): boolean {
  if (address.startsWith('127.') || address === LOOPBACK_V6) return true;
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) if (normalise(i.address) === address) return true;
  return false;
}
