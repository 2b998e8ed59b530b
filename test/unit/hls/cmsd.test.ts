/** CTA-5006 CMSD header serialisation: RFC 8941 dictionary (CMSD-Static) and list (CMSD-Dynamic) syntax, types, enumerations. */
import { describe, expect, it } from 'vitest';
import { CmsdHeaders, mediaObjectType, renditionObjectType, serializeCmsdDynamic, serializeCmsdStatic, sfString } from '../../../src/hls/Cmsd';

type Bare = { type: 'token' | 'string'; value: string } | { type: 'integer'; value: number } | { type: 'boolean'; value: true };

/** A strict reader of the RFC 8941 subset CMSD uses (tokens, strings, integers, booleans as bare keys), for checking the output. */
function parseBare(s: string): [Bare, string] {
  if (s.startsWith('"')) {
    let out = '';
    for (let i = 1; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\\') {
        const next = s[++i];
        if (next !== '"' && next !== '\\') throw new Error(`bad escape in ${s}`);
        out += next;
      } else if (c === '"') return [{ type: 'string', value: out }, s.slice(i + 1)];
      else if (c < ' ' || c > '~') throw new Error('non-printable in string');
      else out += c;
    }
    throw new Error('unterminated string');
  }
  const int = /^-?\d{1,15}(?![.\d])/.exec(s);
  if (int) return [{ type: 'integer', value: Number(int[0]) }, s.slice(int[0].length)];
  const token = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/.exec(s);
  if (token) return [{ type: 'token', value: token[0] }, s.slice(token[0].length)];
  throw new Error(`bad bare item at ${s}`);
}

function parseDictionary(s: string): Map<string, Bare> {
  const out = new Map<string, Bare>();
  let rest = s;
  while (rest.length > 0) {
    const key = /^[a-z*][a-z0-9_\-.*]*/.exec(rest);
    if (!key) throw new Error(`bad key at ${rest}`);
    rest = rest.slice(key[0].length);
    let value: Bare = { type: 'boolean', value: true };
    if (rest.startsWith('=')) [value, rest] = parseBare(rest.slice(1));
    out.set(key[0], value);
    if (rest.length === 0) break;
    if (!rest.startsWith(',')) throw new Error(`expected , at ${rest}`);
    rest = rest.slice(1).replace(/^[ \t]*/, '');
    if (rest.length === 0) throw new Error('trailing comma');
  }
  return out;
}

function parseList(s: string): Array<{ item: Bare; params: Map<string, Bare> }> {
  const out: Array<{ item: Bare; params: Map<string, Bare> }> = [];
  let rest = s;
  while (rest.length > 0) {
    let item: Bare;
    [item, rest] = parseBare(rest);
    const params = new Map<string, Bare>();
    while (rest.startsWith(';')) {
      const key = /^[a-z*][a-z0-9_\-.*]*/.exec(rest.slice(1));
      if (!key) throw new Error(`bad parameter at ${rest}`);
      rest = rest.slice(1 + key[0].length);
      let value: Bare = { type: 'boolean', value: true };
      if (rest.startsWith('=')) [value, rest] = parseBare(rest.slice(1));
      params.set(key[0], value);
    }
    out.push({ item, params });
    if (rest.length === 0) break;
    if (!rest.startsWith(',')) throw new Error(`expected , at ${rest}`);
    rest = rest.slice(1).replace(/^[ \t]*/, '');
  }
  return out;
}

describe('CMSD-Static', () => {
  it('serialises tokens bare, integers plain, strings quoted, true booleans as bare keys, without whitespace', () => {
    const s = serializeCmsdStatic({ ot: 'av', sf: 'h', st: 'l', d: 200, br: 1500, at: 1_700_000_000_123, ht: 85, su: true, n: 'edge "7" \\ eu', v: 1 });
    expect(s).toBe('ot=av,sf=h,st=l,d=200,br=1500,at=1700000000123,ht=85,su,n="edge \\"7\\" \\\\ eu",v=1');
    const dict = parseDictionary(s);
    expect(dict.get('ot')).toEqual({ type: 'token', value: 'av' });
    expect(dict.get('sf')).toEqual({ type: 'token', value: 'h' });
    expect(dict.get('st')).toEqual({ type: 'token', value: 'l' });
    expect(dict.get('at')).toEqual({ type: 'integer', value: 1_700_000_000_123 });
    expect(dict.get('su')).toEqual({ type: 'boolean', value: true });
    expect(dict.get('n')).toEqual({ type: 'string', value: 'edge "7" \\ eu' });
    expect(dict.get('v')).toEqual({ type: 'integer', value: 1 });
  });

  it('leaves out absent keys and false booleans', () => {
    expect(serializeCmsdStatic({})).toBe('');
    expect(serializeCmsdStatic({ ot: 'm', su: false })).toBe('ot=m');
  });

  it('rejects values outside the key definitions', () => {
    expect(() => serializeCmsdStatic({ ot: 'x' as never })).toThrow(/ot must be one of/);
    expect(() => serializeCmsdStatic({ sf: 'hls' as never })).toThrow(/sf/);
    expect(() => serializeCmsdStatic({ st: 'L' as never })).toThrow(/st/);
    expect(() => serializeCmsdStatic({ d: 200.5 })).toThrow(/d must be an integer/);
    expect(() => serializeCmsdStatic({ at: 1e16 })).toThrow(/at must be an integer/);
    expect(() => serializeCmsdStatic({ n: 'caf\u00e9' })).toThrow(/printable ASCII/);
    expect(() => sfString('a\nb')).toThrow(/printable ASCII/);
  });
});

describe('CMSD-Dynamic', () => {
  it('is a list member: the identifier as a String with integer parameters', () => {
    const s = serializeCmsdDynamic('node-1', { rd: 812, etp: 9000, mb: 2000, rtt: 12, du: true });
    expect(s).toBe('"node-1";rd=812;etp=9000;mb=2000;rtt=12;du');
    const [member, ...others] = parseList(s);
    expect(others).toEqual([]);
    expect(member!.item).toEqual({ type: 'string', value: 'node-1' });
    expect(member!.params.get('rd')).toEqual({ type: 'integer', value: 812 });
    expect(member!.params.get('du')).toEqual({ type: 'boolean', value: true });
  });

  it('appends to an upstream list as a further member', () => {
    const list = parseList(`"cdn-edge";rtt=8,${serializeCmsdDynamic('origin', { rd: 0 })}`);
    expect(list.map((m) => m.item.value)).toEqual(['cdn-edge', 'origin']);
    expect(list[1]!.params.get('rd')).toEqual({ type: 'integer', value: 0 });
  });

  it('rejects a non-integer parameter', () => {
    expect(() => serializeCmsdDynamic('n', { rd: 1.5 })).toThrow(/rd must be an integer/);
  });
});

describe('object types', () => {
  it('follow the tracks an fMP4 object carries', () => {
    expect(mediaObjectType(['video'])).toBe('v');
    expect(mediaObjectType(['audio'])).toBe('a');
    expect(mediaObjectType(['video', 'audio'])).toBe('av');
    expect(mediaObjectType(['other'])).toBe('o');
    expect(mediaObjectType([])).toBeUndefined();
    expect(renditionObjectType({ kind: 'audio', packager: { initInfo: undefined } } as never)).toBe('a');
    expect(renditionObjectType({ kind: 'video', packager: { initInfo: { tracks: [{ kind: 'video' }, { kind: 'audio' }] } } } as never)).toBe('av');
  });
});

describe('CmsdHeaders', () => {
  const h = new CmsdHeaders({ dynamic: true, id: 'origin-a' });

  it('describes playlists (live, ended, held)', () => {
    expect(h.playlist(false)).toBe('ot=m,sf=h,st=l,v=1');
    expect(h.playlist(true)).toBe('ot=m,sf=h,st=v,v=1');
    expect(h.playlist(false, 412.4)).toBe('ot=m,sf=h,st=l,ht=412,v=1');
  });

  it('describes init segments, parts and segments', () => {
    expect(h.media({ ot: 'i', ended: false })).toBe('ot=i,sf=h,st=l,v=1');
    // 25 000 bytes over 0.2 s = 1000 kbps
    expect(h.media({ ot: 'v', ended: false, durationSec: 0.2, availableAt: 1_700_000_000_000.4, bytes: 25_000 })).toBe(
      'ot=v,sf=h,st=l,d=200,br=1000,at=1700000000000,v=1',
    );
    expect(h.media({ ot: 'a', ended: true, durationSec: 2.0053, availableAt: 5, bytes: 16_000, heldMs: 180 })).toBe(
      'ot=a,sf=h,st=v,d=2005,br=64,at=5,ht=180,v=1',
    );
    expect(h.media({ ot: undefined, ended: false })).toBe('sf=h,st=l,v=1');
  });

  it('builds the dynamic member and the header map with the CORS exposure', () => {
    expect(h.dynamic(0)).toBe('"origin-a";rd=0');
    expect(h.dynamic(250.6)).toBe('"origin-a";rd=251');
    expect(h.dynamic(-3)).toBe('"origin-a";rd=0');
    expect(h.headers('ot=m', 7)).toEqual({
      'cmsd-static': 'ot=m',
      'cmsd-dynamic': '"origin-a";rd=7',
      'access-control-expose-headers': 'ETag, CMSD-Static, CMSD-Dynamic',
    });
  });

  it('leaves CMSD-Dynamic out when disabled, and escapes or encodes awkward identifiers', () => {
    const noDyn = new CmsdHeaders({ dynamic: false, id: 'x' });
    expect(noDyn.dynamic(10)).toBeUndefined();
    expect(noDyn.headers('ot=m', 1)).toEqual({ 'cmsd-static': 'ot=m', 'access-control-expose-headers': 'ETag, CMSD-Static' });
    expect(new CmsdHeaders({ dynamic: true, id: 'a"b' }).dynamic(1)).toBe('"a\\"b";rd=1');
    expect(new CmsdHeaders({ dynamic: true, id: 'nœud' }).dynamic(1)).toBe('"n%C5%93ud";rd=1');
  });
});
