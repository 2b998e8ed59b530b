/**
 * HPACK/QPACK Huffman decoding (RFC 7541 §5.2, Appendix B; QPACK reuses it). The code is
 * canonical, so the table is stored as the code length of each symbol (0–255, then EOS) and
 * the codes are derived from the lengths.
 */

// Code lengths in bits for symbols 0..256 (RFC 7541 Appendix B).
const LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11,
  10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7,
  8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23,
  22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23,
  23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26,
  27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27,
  27, 27, 26, 30,
];

const EOS = 256;
const MAX_LEN = 30;

// Canonical decoding tables: for each length, the first code, how many codes, and where its
// symbols start in `SORTED` (symbols ordered by length, then value).
const COUNT = new Array<number>(MAX_LEN + 1).fill(0);
const FIRST_CODE = new Array<number>(MAX_LEN + 1).fill(0);
const FIRST_INDEX = new Array<number>(MAX_LEN + 1).fill(0);
const SORTED: number[] = [];
/** The code of each symbol (right-aligned), derived from the lengths. */
export const HUFFMAN_CODES: number[] = new Array<number>(257).fill(0);
{
  for (const len of LENGTHS) COUNT[len]!++;
  let code = 0;
  let index = 0;
  for (let len = 1; len <= MAX_LEN; len++) {
    FIRST_CODE[len] = code;
    FIRST_INDEX[len] = index;
    for (let sym = 0; sym < LENGTHS.length; sym++) {
      if (LENGTHS[sym] === len) {
        HUFFMAN_CODES[sym] = code++;
        SORTED.push(sym);
        index++;
      }
    }
    code *= 2;
  }
}

/** A Huffman-coded string that breaks the rules (EOS inside, bad padding). */
export class HuffmanError extends Error {
  override name = 'HuffmanError';
}

/** Decodes a Huffman-coded string; throws {@link HuffmanError} on invalid input. */
export function huffmanDecode(input: Uint8Array): Uint8Array {
  const out: number[] = [];
  let code = 0;
  let len = 0;
  let ones = true;
  for (const byte of input) {
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >> bit) & 1;
      code = code * 2 + b;
      len++;
      ones &&= b === 1;
      const offset = code - FIRST_CODE[len]!;
      if (offset >= 0 && offset < COUNT[len]!) {
        const sym = SORTED[FIRST_INDEX[len]! + offset]!;
        if (sym === EOS) throw new HuffmanError('EOS symbol inside a Huffman string');
        out.push(sym);
        code = 0;
        len = 0;
        ones = true;
      } else if (len >= MAX_LEN) {
        throw new HuffmanError('invalid Huffman code');
      }
    }
  }
  // Padding: at most 7 bits, all ones (a prefix of EOS).
  if (len > 7 || !ones) throw new HuffmanError('invalid Huffman padding');
  return Uint8Array.from(out);
}

/** Huffman-encodes bytes (used by tests and by encoders that want it). */
export function huffmanEncode(input: Uint8Array): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const sym of input) {
    const len = LENGTHS[sym]!;
    const code = HUFFMAN_CODES[sym]!;
    for (let i = len - 1; i >= 0; i--) {
      acc = (acc << 1) | (Math.floor(code / 2 ** i) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xff);
  return Uint8Array.from(out);
}
