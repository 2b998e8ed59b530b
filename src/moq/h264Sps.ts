/**
 * Reads what the hang catalog needs from an H264 SPS: the codec string (profile, constraint
 * flags, level) and the coded size (ITU-T H.264 §7.3.2.1.1, with frame cropping applied).
 */

/** What an SPS says about the stream. */
export interface SpsInfo {
  /** WebCodecs codec string for in-band parameter sets, e.g. 'avc3.42c01f'. */
  codec: string;
  width: number;
  height: number;
}

class BitReader {
  #pos = 0;
  constructor(readonly buf: Uint8Array) {}
  bit(): number {
    const byte = this.buf[this.#pos >> 3];
    if (byte === undefined) throw new RangeError('SPS truncated');
    const v = (byte >> (7 - (this.#pos & 7))) & 1;
    this.#pos++;
    return v;
  }
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > 31) throw new RangeError('bad exp-golomb code');
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** Removes emulation-prevention bytes (00 00 03 → 00 00). */
function unescape(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.byteLength);
  let n = 0;
  let zeros = 0;
  for (const b of nal) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

function hex2(v: number): string {
  return v.toString(16).padStart(2, '0');
}

/** Parses an SPS NAL unit (header byte included); undefined when malformed. */
export function parseSps(nal: Uint8Array): SpsInfo | undefined {
  if (nal.byteLength < 4 || (nal[0]! & 0x1f) !== 7) return undefined;
  const codec = `avc3.${hex2(nal[1]!)}${hex2(nal[2]!)}${hex2(nal[3]!)}`;
  try {
    const r = new BitReader(unescape(nal.subarray(1)));
    const profile = r.bits(8);
    r.bits(8); // constraint flags + reserved
    r.bits(8); // level
    r.ue(); // seq_parameter_set_id
    let chromaFormat = 1;
    let separateColourPlanes = 0;
    if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
      chromaFormat = r.ue();
      if (chromaFormat === 3) separateColourPlanes = r.bit();
      r.ue(); // bit_depth_luma_minus8
      r.ue(); // bit_depth_chroma_minus8
      r.bit(); // qpprime_y_zero_transform_bypass_flag
      if (r.bit()) {
        const lists = chromaFormat !== 3 ? 8 : 12;
        for (let i = 0; i < lists; i++) {
          if (!r.bit()) continue;
          const size = i < 6 ? 16 : 64;
          let last = 8;
          let next = 8;
          for (let j = 0; j < size; j++) {
            if (next !== 0) next = (last + r.se() + 256) % 256;
            last = next === 0 ? last : next;
          }
        }
      }
    }
    r.ue(); // log2_max_frame_num_minus4
    const pocType = r.ue();
    if (pocType === 0) {
      r.ue();
    } else if (pocType === 1) {
      r.bit();
      r.se();
      r.se();
      const cycle = r.ue();
      for (let i = 0; i < cycle; i++) r.se();
    }
    r.ue(); // max_num_ref_frames
    r.bit(); // gaps_in_frame_num_value_allowed_flag
    const widthMbs = r.ue() + 1;
    const heightMapUnits = r.ue() + 1;
    const frameMbsOnly = r.bit();
    if (!frameMbsOnly) r.bit(); // mb_adaptive_frame_field_flag
    r.bit(); // direct_8x8_inference_flag
    let width = widthMbs * 16;
    let height = (2 - frameMbsOnly) * heightMapUnits * 16;
    if (r.bit()) {
      const left = r.ue();
      const right = r.ue();
      const top = r.ue();
      const bottom = r.ue();
      const chromaArray = separateColourPlanes ? 0 : chromaFormat;
      const cropX = chromaArray === 0 ? 1 : chromaArray === 3 ? 1 : 2;
      const cropY = (chromaArray === 0 ? 1 : chromaArray === 1 ? 2 : 1) * (2 - frameMbsOnly);
      width -= (left + right) * cropX;
      height -= (top + bottom) * cropY;
    }
    return { codec, width, height };
  } catch {
    return { codec, width: 0, height: 0 };
  }
}
