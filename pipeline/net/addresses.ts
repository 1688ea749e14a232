// What kind of address an IP literal is: public, or one of the ranges a server must not be
// steered into (loopback, private, link-local, unspecified…). Pure.

export type AddressKind =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'unspecified'
  | 'shared'
  | 'multicast'
  | 'reserved'
  | 'documentation';

/** Dotted quad → 32-bit number, or null. */
export function parseIpv4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  if (b.some((x, i) => x > 255 || (m[i + 1].length > 1 && m[i + 1][0] === '0'))) return null;
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

/** IPv6 text (with ::, an embedded dotted quad, no zone) → 8 hextets, or null. */
export function parseIpv6(s: string): number[] | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.split('::').length > 2) return null;
  let text = s;
  if (text.includes('.')) {
    // An embedded dotted quad (::ffff:1.2.3.4) becomes its two hextets.
    const dot = text.lastIndexOf(':');
    const v4 = parseIpv4(text.slice(dot + 1));
    if (v4 === null) return null;
    text = `${text.slice(0, dot + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const [head, rest] = text.includes('::') ? text.split('::') : [text, null];
  const h = groups(head);
  const r = rest === null ? [] : groups(rest);
  if ([...h, ...r].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  const known = h.length + r.length;
  if (rest === null ? known !== 8 : known > 7) return null;
  const zeros = rest === null ? [] : new Array(8 - known).fill(0);
  return [...h.map((g) => parseInt(g, 16)), ...zeros, ...r.map((g) => parseInt(g, 16))];
}

const v4In = (ip: number, base: string, bits: number) => {
  const b = parseIpv4(base)!;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((ip & mask) >>> 0) === ((b & mask) >>> 0);
};

function kindV4(ip: number): AddressKind {
  if (v4In(ip, '0.0.0.0', 8)) return 'unspecified';
  if (v4In(ip, '127.0.0.0', 8)) return 'loopback';
  if (v4In(ip, '10.0.0.0', 8) || v4In(ip, '172.16.0.0', 12) || v4In(ip, '192.168.0.0', 16)) return 'private';
  if (v4In(ip, '169.254.0.0', 16)) return 'link-local';
  if (v4In(ip, '100.64.0.0', 10)) return 'shared';
  if (v4In(ip, '224.0.0.0', 4)) return 'multicast';
  if (v4In(ip, '192.0.2.0', 24) || v4In(ip, '198.51.100.0', 24) || v4In(ip, '203.0.113.0', 24)) return 'documentation';
  if (v4In(ip, '192.0.0.0', 24) || v4In(ip, '198.18.0.0', 15) || v4In(ip, '240.0.0.0', 4)) return 'reserved';
  return 'public';
}

function kindV6(g: number[]): AddressKind {
  if (g.every((x) => x === 0)) return 'unspecified';
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'loopback';
  const v4 = ((g[6] << 16) | g[7]) >>> 0;
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96): the IPv4 inside decides.
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) return kindV4(v4);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return kindV4(v4);
  if ((g[0] & 0xfe00) === 0xfc00) return 'private'; // fc00::/7 unique local
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0] & 0xffc0) === 0xfec0) return 'private'; // deprecated site-local
  if ((g[0] & 0xff00) === 0xff00) return 'multicast';
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'documentation';
  if (g[0] === 0x2002) return kindV4(((g[1] << 16) | g[2]) >>> 0); // 6to4 carries an IPv4
  if (g[0] === 0x0100 && g.slice(1, 4).every((x) => x === 0)) return 'reserved'; // discard-only
  return 'public';
}

/** The kind of an IP literal (IPv6 may be bracketed), or null when it is not one. */
export function addressKind(address: string): AddressKind | null {
  const a = address.replace(/^\[(.*)\]$/, '$1');
  const v4 = parseIpv4(a);
  if (v4 !== null) return kindV4(v4);
  const v6 = parseIpv6(a);
  return v6 ? kindV6(v6) : null;
}

export function isIpLiteral(host: string): boolean {
  return addressKind(host) !== null;
}

/** Loopback or private (incl. link-local and unique local): reachable only from inside. */
export function isInternal(address: string): boolean {
  const k = addressKind(address);
  return k === 'loopback' || k === 'private' || k === 'link-local' || k === 'shared';
}
