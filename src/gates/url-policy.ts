// Applies the health-check URL policy (src/policy/url-policy.ts, where it is
// documented) to a URL about to be requested: its host is resolved and every
// address must be allowed. A host name is resolved here and fetch resolves it
// again, so a DNS server answering differently the second time (rebinding) is
// not covered; a NetworkPolicy denying egress to 169.254.0.0/16 stays the
// defence in depth.
import { lookup } from 'node:dns/promises';
import { bareHost, ipBytes, refusedAddress, refusedLiteralHost, type UrlPolicy } from '../policy/url-policy.js';

export { DEFAULT_URL_POLICY, refusalMessage, urlPolicyFromEnv, type UrlPolicy } from '../policy/url-policy.js';

export type Resolver = (host: string) => Promise<string[]>;

const systemResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Why the operator refuses to request `url`, resolving its host; undefined
 * when allowed. A host that does not resolve is allowed here: the request
 * then fails with the resolver's own message.
 */
export async function refusedUrl(url: URL, policy: UrlPolicy, resolve: Resolver = systemResolver): Promise<string | undefined> {
  const literal = refusedLiteralHost(url, policy);
  if (literal) return literal;
  const host = bareHost(url);
  if (ipBytes(host)) return undefined;
  let addresses: string[];
  try {
    addresses = await resolve(host);
  } catch {
    return undefined;
  }
  for (const a of addresses) {
    const why = refusedAddress(a, policy);
    if (why) return `${host} resolves to ${why}`;
  }
  return undefined;
}

