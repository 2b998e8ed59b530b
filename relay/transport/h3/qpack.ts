/**
 * QPACK (RFC 9204) with the static table only: this endpoint advertises a dynamic table capacity
 * of 0, so a field section that references the dynamic table is a decompression failure.
 * Decoding handles indexed and literal field lines, Huffman-coded strings and the prefix
 * integers; encoding uses static-table references and plain literals.
 */
import { huffmanDecode, HuffmanError } from './huffman';

/** The QPACK static table (RFC 9204 Appendix A): [name, value] by index. */
const STATIC: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''],
  [':path', '/'],
  ['age', '0'],
  ['content-disposition', ''],
  ['content-length', '0'],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['referer', ''],
  ['set-cookie', ''],
  [':method', 'CONNECT'],
  [':method', 'DELETE'],
  [':method', 'GET'],
  [':method', 'HEAD'],
  [':method', 'OPTIONS'],
  [':method', 'POST'],
  [':method', 'PUT'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '103'],
  [':status', '200'],
  [':status', '304'],
  [':status', '404'],
  [':status', '503'],
  ['accept', '*/*'],
  ['accept', 'application/dns-message'],
  ['accept-encoding', 'gzip, deflate, br'],
  ['accept-ranges', 'bytes'],
  ['access-control-allow-headers', 'cache-control'],
  ['access-control-allow-headers', 'content-type'],
  ['access-control-allow-origin', '*'],
  ['cache-control', 'max-age=0'],
  ['cache-control', 'max-age=2592000'],
  ['cache-control', 'max-age=604800'],
  ['cache-control', 'no-cache'],
  ['cache-control', 'no-store'],
  ['cache-control', 'public, max-age=31536000'],
  ['content-encoding', 'br'],
  ['content-encoding', 'gzip'],
  ['content-type', 'application/dns-message'],
  ['content-type', 'application/javascript'],
  ['content-type', 'application/json'],
  ['content-type', 'application/x-www-form-urlencoded'],
  ['content-type', 'image/gif'],
  ['content-type', 'image/jpeg'],
  ['content-type', 'image/png'],
  ['content-type', 'text/css'],
  ['content-type', 'text/html; charset=utf-8'],
  ['content-type', 'text/plain'],
  ['content-type', 'text/plain;charset=utf-8'],
  ['range', 'bytes=0-'],
  ['strict-transport-security', 'max-age=31536000'],
  ['strict-transport-security', 'max-age=31536000; includesubdomains'],
  ['strict-transport-security', 'max-age=31536000; includesubdomains; preload'],
  ['vary', 'accept-encoding'],
  ['vary', 'origin'],
  ['x-content-type-options', 'nosniff'],
  ['x-xss-protection', '1; mode=block'],
  [':status', '100'],
  [':status', '204'],
  [':status', '206'],
  [':status', '302'],
  [':status', '400'],
  [':status', '403'],
  [':status', '421'],
  [':status', '425'],
  [':status', '500'],
  ['accept-language', ''],
  ['access-control-allow-credentials', 'FALSE'],
  ['access-control-allow-credentials', 'TRUE'],
  ['access-control-allow-headers', '*'],
  ['access-control-allow-methods', 'get'],
  ['access-control-allow-methods', 'get, post, options'],
  ['access-control-allow-methods', 'options'],
  ['access-control-expose-headers', 'content-length'],
  ['access-control-request-headers', 'content-type'],
  ['access-control-request-method', 'get'],
  ['access-control-request-method', 'post'],
  ['alt-svc', 'clear'],
  ['authorization', ''],
  ['content-security-policy', "script-src 'none'; object-src 'none'; base-uri 'none'"],
  ['early-data', '1'],
  ['expect-ct', ''],
  ['forwarded', ''],
  ['if-range', ''],
  ['origin', ''],
  ['purpose', 'prefetch'],
  ['server', ''],
  ['timing-allow-origin', '*'],
  ['upgrade-insecure-requests', '1'],
  ['user-agent', ''],
  ['x-forwarded-for', ''],
  ['x-frame-options', 'deny'],
  ['x-frame-options', 'sameorigin'],
];

/** A field section as decoded: [name, value] in order. */
export type HeaderList = Array<[string, string]>;

/** A field section that cannot be decoded (QPACK_DECOMPRESSION_FAILED). */
export class QpackError extends Error {
  override name = 'QpackError';
}

const latin = new TextDecoder('latin1');
const utf8 = new TextEncoder();

/** Decodes one field section; the total size of names and values is capped at `maxBytes`. */
export function decodeFieldSection(block: Uint8Array, maxBytes = 16 * 1024): HeaderList {
  const r = new PrefixReader(block);
  const requiredInsertCount = r.int(0xff);
  r.int(0x7f); // Delta base (meaningless without a dynamic table).
  if (requiredInsertCount !== 0) throw new QpackError('field section references the dynamic table (capacity is 0)');
  const out: HeaderList = [];
  let size = 0;
  while (!r.done) {
    const b = r.peek();
    let name: string;
    let value: string;
    if (b & 0x80) {
      // Indexed field line: 1 T index(6)
      if (!(b & 0x40)) throw new QpackError('dynamic table reference');
      [name, value] = staticEntry(r.int(0x3f));
    } else if (b & 0x40) {
      // Literal with name reference: 0 1 N T index(4)
      if (!(b & 0x10)) throw new QpackError('dynamic table name reference');
      name = staticEntry(r.int(0x0f))[0];
      value = r.string(7);
    } else if (b & 0x20) {
      // Literal with literal name: 0 0 1 N H len(3)
      name = r.string(3);
      value = r.string(7);
    } else {
      throw new QpackError('post-base (dynamic table) reference');
    }
    size += name.length + value.length + 32;
    if (size > maxBytes) throw new QpackError(`field section larger than ${maxBytes} bytes`);
    out.push([name, value]);
  }
  return out;
}

/** Encodes a field section with static-table references and literals (no Huffman, no dynamic table). */
export function encodeFieldSection(headers: HeaderList): Uint8Array {
  const out: number[] = [0x00, 0x00];
  for (const [name, value] of headers) {
    const exact = STATIC.findIndex(([n, v]) => n === name && v === value);
    if (exact >= 0) {
      writeInt(out, 6, 0xc0, exact);
      continue;
    }
    const byName = STATIC.findIndex(([n]) => n === name);
    if (byName >= 0) writeInt(out, 4, 0x50, byName);
    else writeString(out, 3, 0x20, name);
    writeString(out, 7, 0x00, value);
  }
  return Uint8Array.from(out);
}

function staticEntry(index: number): readonly [string, string] {
  const e = STATIC[index];
  if (!e) throw new QpackError(`static table index ${index} out of range`);
  return e;
}

function writeInt(out: number[], prefixBits: number, flags: number, v: number): void {
  const max = (1 << prefixBits) - 1;
  if (v < max) {
    out.push(flags | v);
    return;
  }
  out.push(flags | max);
  v -= max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function writeString(out: number[], prefixBits: number, flags: number, s: string): void {
  const bytes = utf8.encode(s);
  writeInt(out, prefixBits, flags, bytes.byteLength);
  for (const b of bytes) out.push(b);
}

/** Reads QPACK prefix integers and strings from a field section. */
class PrefixReader {
  #pos = 0;
  constructor(readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.#pos >= this.buf.byteLength;
  }

  peek(): number {
    if (this.done) throw new QpackError('field section truncated');
    return this.buf[this.#pos]!;
  }

  /** A prefix integer in the bits of the current byte under `mask` (RFC 7541 §5.1). */
  int(mask: number): number {
    let v = this.peek() & mask;
    this.#pos++;
    if (v < mask) return v;
    let shift = 1;
    for (;;) {
      const b = this.peek();
      this.#pos++;
      v += (b & 0x7f) * shift;
      if (!(b & 0x80)) break;
      shift *= 128;
      if (shift > 2 ** 35) throw new QpackError('prefix integer too large');
    }
    return v;
  }

  /** A string whose H bit sits just above a `bits`-bit length prefix. */
  string(bits: number): string {
    const huffman = (this.peek() & (1 << bits)) !== 0;
    const len = this.int((1 << bits) - 1);
    if (this.#pos + len > this.buf.byteLength) throw new QpackError('string runs past the field section');
    const raw = this.buf.subarray(this.#pos, this.#pos + len);
    this.#pos += len;
    if (!huffman) return latin.decode(raw);
    try {
      return latin.decode(huffmanDecode(raw));
    } catch (err) {
      if (err instanceof HuffmanError) throw new QpackError(err.message);
      throw err;
    }
  }
}
