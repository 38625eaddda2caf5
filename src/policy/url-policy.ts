// Where HTTP health checks (spec.healthChecks.http[].url) may send requests.
// The operator makes them from its own pod, with its network identity, so a
// MeshRevision author must not be able to point them at the node's or the
// cloud's metadata service (SSRF). The policy, checked on every measurement
// against every address the host resolves to:
//
//   denied   link-local 169.254.0.0/16 and fe80::/10 (cloud metadata lives at
//            169.254.169.254 on AWS, GCP, Azure, OpenStack, Oracle), the other
//            metadata addresses fd00:ec2::254 (AWS IPv6) and 100.100.100.200
//            (Alibaba), the host name metadata.google.internal, and any
//            scheme but http/https
//   allowed  everything else, loopback and private ranges included: in-cluster
//            Services and pods live in private ranges, and a check of the
//            operator's own sidecar may use loopback
//
// No I/O here: src/gates/url-policy.ts resolves host names and applies it.
// The operator's environment adjusts it: MESHREV_HTTP_CHECK_DENY_CIDRS adds
// denied ranges, MESHREV_HTTP_CHECK_ALLOW_CIDRS exempts ranges from the
// denied ones (comma-separated CIDRs or addresses). IPv4-mapped IPv6
// addresses (::ffff:a.b.c.d) are judged as the IPv4 address.
import { isIP } from 'node:net';

export interface Cidr {
  /** As written (normalised), for messages. */
  text: string;
  family: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
  /** Why it is denied (built-in ranges); undefined for ranges from the environment. */
  why?: string;
}

export interface UrlPolicy {
  deny: readonly Cidr[];
  allow: readonly Cidr[];
  /** Lower-case host names refused whatever they resolve to. */
  denyHosts: readonly string[];
}

export const DENY_CIDRS_ENV = 'MESHREV_HTTP_CHECK_DENY_CIDRS';
export const ALLOW_CIDRS_ENV = 'MESHREV_HTTP_CHECK_ALLOW_CIDRS';

function ipv4Bytes(ip: string): Uint8Array {
  return Uint8Array.from(ip.split('.').map(Number));
}

function ipv6Bytes(ip: string): Uint8Array {
  let text = ip.toLowerCase().split('%')[0]!;
  // A trailing dotted IPv4 part (::ffff:1.2.3.4) becomes two hex groups.
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const b = ipv4Bytes(dotted[2]!);
    text = `${dotted[1]}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** The address as bytes, IPv4-mapped IPv6 as IPv4; undefined when it is not an IP literal. */
export function ipBytes(ip: string): { family: 4 | 6; bytes: Uint8Array } | undefined {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const family = isIP(bare.split('%')[0]!);
  if (family === 4) return { family: 4, bytes: ipv4Bytes(bare) };
  if (family !== 6) return undefined;
  const bytes = ipv6Bytes(bare);
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? { family: 4, bytes: bytes.slice(12) } : { family: 6, bytes };
}

/** "10.0.0.0/8", "fe80::/10" or a bare address; throws with a message naming the value. */
export function parseCidr(text: string, why?: string): Cidr {
  const [addr, len, extra] = text.trim().split('/');
  const ip = addr === undefined ? undefined : ipBytes(addr);
  const max = ip?.family === 4 ? 32 : 128;
  const prefix = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!ip || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
    throw new Error(`"${text}" is not a CIDR: write it as 10.0.0.0/8, fd00::/8 or a single address`);
  }
  return { text: text.trim(), family: ip.family, bytes: ip.bytes, prefix, ...(why ? { why } : {}) };
}

export function cidrContains(cidr: Cidr, addr: { family: 4 | 6; bytes: Uint8Array }): boolean {
  if (cidr.family !== addr.family) return false;
  for (let bit = 0; bit < cidr.prefix; bit++) {
    const mask = 0x80 >> bit % 8;
    if ((cidr.bytes[bit >> 3]! & mask) !== (addr.bytes[bit >> 3]! & mask)) return false;
  }
  return true;
}

const BUILT_IN_DENY: readonly Cidr[] = [
  parseCidr('169.254.0.0/16', 'link-local, where cloud metadata services answer (169.254.169.254)'),
  parseCidr('fe80::/10', 'IPv6 link-local'),
  parseCidr('fd00:ec2::254/128', 'the AWS IPv6 metadata service'),
  parseCidr('100.100.100.200/32', 'the Alibaba Cloud metadata service'),
];
const BUILT_IN_DENY_HOSTS = ['metadata.google.internal'];

function parseList(value: string | undefined, name: string): Cidr[] {
  if (value === undefined || value.trim() === '') return [];
  return value
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((s) => {
      try {
        return parseCidr(s);
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}`, { cause: err });
      }
    });
}

/** The built-in policy plus the environment's ranges; throws on a malformed range so the operator fails at start. */
export function urlPolicyFromEnv(env: Readonly<Record<string, string | undefined>>): UrlPolicy {
  return {
    deny: [...BUILT_IN_DENY, ...parseList(env[DENY_CIDRS_ENV], DENY_CIDRS_ENV)],
    allow: parseList(env[ALLOW_CIDRS_ENV], ALLOW_CIDRS_ENV),
    denyHosts: BUILT_IN_DENY_HOSTS,
  };
}

export const DEFAULT_URL_POLICY: UrlPolicy = { deny: BUILT_IN_DENY, allow: [], denyHosts: BUILT_IN_DENY_HOSTS };

/** Why `address` (an IP literal) is refused, or undefined when it is allowed. */
export function refusedAddress(address: string, policy: UrlPolicy): string | undefined {
  const ip = ipBytes(address);
  if (!ip) return undefined;
  if (policy.allow.some((c) => cidrContains(c, ip))) return undefined;
  const hit = policy.deny.find((c) => cidrContains(c, ip));
  if (!hit) return undefined;
  return `${address} is in ${hit.text} (${hit.why ?? `listed in ${DENY_CIDRS_ENV}`})`;
}

/** The host of a URL as written in it, without IPv6 brackets or a trailing dot, lower case. */
export function bareHost(url: URL): string {
  let h = url.hostname.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** Offline: why the URL's literal host is refused (no DNS), or undefined. */
export function refusedLiteralHost(url: URL, policy: UrlPolicy = DEFAULT_URL_POLICY): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `the scheme ${url.protocol} is not http or https`;
  const host = bareHost(url);
  if (policy.denyHosts.includes(host)) return `${host} is a cloud metadata service`;
  return refusedAddress(host, policy);
}

/** The measurement message for a refused URL. */
export function refusalMessage(target: string, why: string): string {
  return `url ${JSON.stringify(target)} is refused by the operator's health-check URL policy: ${why}; health checks may not reach link-local or cloud metadata addresses (an operator admin can exempt a range with ${ALLOW_CIDRS_ENV})`;
}
