/** HTTP/3 codec pieces of the relay's WebTransport listener: Huffman, QPACK, varints, error-code mapping. */
import { describe, expect, it } from 'vitest';
import { ByteQueue, encodeVarint } from '../../relay/transport/h3/ByteQueue';
import { http3ToWebTransport, webTransportToHttp3 } from '../../relay/transport/h3/codes';
import { HUFFMAN_CODES, huffmanDecode, huffmanEncode, HuffmanError } from '../../relay/transport/h3/huffman';
import { decodeFieldSection, encodeFieldSection, QpackError } from '../../relay/transport/h3/qpack';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));

describe('Huffman (RFC 7541 Appendix B)', () => {
  it('derives the RFC codes from the code lengths', () => {
    expect(HUFFMAN_CODES[0]).toBe(0x1ff8);
    expect(HUFFMAN_CODES[10]).toBe(0x3ffffffc);
    expect(HUFFMAN_CODES[97]).toBe(0x3); // 'a'
    expect(HUFFMAN_CODES[255]).toBe(0x3ffffee);
    expect(HUFFMAN_CODES[256]).toBe(0x3fffffff); // EOS
  });

  it('decodes the RFC 7541 C.4 examples and round-trips every byte', () => {
    expect(Buffer.from(huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff'))).toString()).toBe('www.example.com');
    expect(Buffer.from(huffmanDecode(hex('a8eb 1064 9cbf'))).toString()).toBe('no-cache');
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(huffmanDecode(huffmanEncode(all))).toEqual(all);
  });

  it('rejects bad padding and an EOS inside the string', () => {
    expect(() => huffmanDecode(Uint8Array.of(0x00))).toThrow(HuffmanError); // '0' then 3 zero padding bits
    expect(() => huffmanDecode(Uint8Array.of(0xff, 0xff, 0xff, 0xff))).toThrow(HuffmanError); // EOS
  });
});

describe('QPACK (static table only)', () => {
  it('round-trips indexed, name-referenced and literal fields', () => {
    const headers: Array<[string, string]> = [
      [':method', 'CONNECT'],
      [':status', '401'],
      ['sec-webtransport-http3-draft', 'draft02'],
      [':path', '/room?jwt=x'],
    ];
    expect(decodeFieldSection(encodeFieldSection(headers))).toEqual(headers);
  });

  it('decodes Huffman-coded literals as Chromium sends them', () => {
    // Literal with name reference to :authority (0), value Huffman "www.example.com".
    const block = Uint8Array.from([0x00, 0x00, 0x50, 0x8c, ...hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff')]);
    expect(decodeFieldSection(block)).toEqual([[':authority', 'www.example.com']]);
  });

  it('refuses dynamic-table references, truncation and oversized sections', () => {
    expect(() => decodeFieldSection(Uint8Array.of(0x01, 0x00))).toThrow(QpackError);
    expect(() => decodeFieldSection(Uint8Array.of(0x00, 0x00, 0x80))).toThrow(QpackError);
    expect(() => decodeFieldSection(Uint8Array.of(0x00, 0x00, 0x10))).toThrow(QpackError);
    expect(() => decodeFieldSection(Uint8Array.of(0x00, 0x00, 0x5f))).toThrow(QpackError);
    expect(() => decodeFieldSection(Uint8Array.of(0x00, 0x00, 0xff, 0x64))).toThrow(QpackError); // static index 127
    expect(() => decodeFieldSection(encodeFieldSection([['x', 'y'.repeat(20_000)]]))).toThrow(QpackError);
  });
});

describe('varints and WebTransport error codes', () => {
  it('encodes and peeks QUIC varints across chunk boundaries', () => {
    for (const v of [0, 63, 64, 16383, 16384, 2 ** 30 - 1, 2 ** 30, 2 ** 53 - 1]) {
      const bytes = encodeVarint(v);
      const q = new ByteQueue();
      for (const b of bytes) {
        q.push(Uint8Array.of(b));
      }
      expect(q.varint()).toBe(v);
      expect(q.length).toBe(0);
    }
    const partial = new ByteQueue();
    partial.push(Uint8Array.of(0x80, 0x01));
    expect(partial.varint()).toBeUndefined();
    expect(partial.length).toBe(2);
  });

  it('maps WebTransport codes into the HTTP/3 range and back, skipping reserved values', () => {
    for (const c of [0, 1, 0x1d, 0x1e, 0x34, 1000, 0xffffffff]) expect(http3ToWebTransport(webTransportToHttp3(c))).toBe(c);
    expect(webTransportToHttp3(0)).toBe(0x52e4a40fa8db);
    expect(http3ToWebTransport(0x52e4a40fa8db + 0x1e)).toBeUndefined();
    expect(http3ToWebTransport(0x100)).toBeUndefined();
  });
});
