import { BlockList, isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.5`, `192.168.10.0/24`, `::1`, `fd00::/8`; null when it is none of these. */
export function parseCidr(text: string): Cidr | null {
  const [address, prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return null;
  const version = isIP(address ?? '');
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, how a dual-stack socket reports IPv4) as IPv4. */
export function normaliseAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}

/**
 * The unit a client address is counted in: an IPv4 address itself, an IPv6 address's /64
 * (one host usually holds a whole /64, so counting single IPv6 addresses could be dodged).
 */
export function addressBucket(address: string | undefined): string {
  const normal = normaliseAddress(address);
  if (isIP(normal) !== 6) return normal;
  const groups = expandIpv6(normal);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : normal;
}

function expandIpv6(address: string): string[] | null {
  const [head, tail, extra] = address.split('::');
  if (extra !== undefined) return null;
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail !== '' ? tail.split(':') : [];
  if (right.some((g) => g.includes('.')) || left.some((g) => g.includes('.'))) return null;
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array(Math.max(missing, 0)).fill('0'), ...right];
  return groups.length === 8 ? groups.map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')) : null;
}

/** A set of addresses and ranges (for OPS_LOGIN_TRUSTED_ADDRESSES). */
export class AddressSet {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(entries: string) {
    const cidrs = entries
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean)
      .map((e) => parseCidr(e))
      .filter((c): c is Cidr => c !== null);
    for (const c of cidrs) this.list.addSubnet(c.address, c.prefix, c.family);
    this.empty = cidrs.length === 0;
  }

  has(address: string | undefined): boolean {
    if (this.empty || !address) return false;
    const normal = normaliseAddress(address);
    const version = isIP(normal);
    if (version === 0) return false;
    return this.list.check(normal, version === 4 ? 'ipv4' : 'ipv6');
  }
}
