/**
 * A reader for the fragmented MP4 (CMAF) byte stream ffmpeg writes to a pipe: splits it into
 * top-level boxes as bytes arrive, reads the initialisation segment (tracks, timescales, RFC 6381
 * codec strings, picture size) and each `moof` (per-track decode time, duration, sync flag).
 * Only the fields the packager needs are parsed; everything else is passed through untouched.
 */

/** One top-level box: its four-character type and its complete bytes (header included). */
export interface Mp4Box {
  type: string;
  data: Buffer;
}

/** A track described by the initialisation segment. */
export interface Mp4Track {
  id: number;
  kind: 'video' | 'audio' | 'other';
  /** Media timescale (ticks per second) from `mdhd`. */
  timescale: number;
  /** RFC 6381 codec string (`avc1.42e01e`, `mp4a.40.2`, `opus`…), or the sample entry type. */
  codec: string;
  width?: number;
  height?: number;
  sampleRate?: number;
  channels?: number;
  /** Defaults from `trex` (used when `tfhd`/`trun` omit a field). */
  defaultSampleDuration: number;
  defaultSampleFlags: number;
}

/** What the initialisation segment (`ftyp` + `moov`) says. */
export interface Mp4Init {
  tracks: Mp4Track[];
}

/** One track's run inside a `moof`. */
export interface Mp4TrackFragment {
  trackId: number;
  /** `tfdt` base media decode time in the track's timescale. */
  baseDecodeTime: number;
  /** Sum of sample durations in the track's timescale. */
  duration: number;
  sampleCount: number;
  /** True when the first sample is a sync sample (a keyframe for video). */
  startsWithSync: boolean;
}

/** What a `moof` says. */
export interface Mp4Fragment {
  sequence: number;
  tracks: Mp4TrackFragment[];
}

/** Raised on a byte stream that is not well-formed MP4. */
export class Mp4FormatError extends Error {
  override name = 'Mp4FormatError';
}

/** Splits a byte stream into complete top-level boxes. */
export class Mp4BoxReader {
  readonly #maxBoxBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;

  /** `maxBoxBytes` bounds memory against a corrupt size field (default 64 MiB). */
  constructor(maxBoxBytes = 64 * 1024 * 1024) {
    this.#maxBoxBytes = maxBoxBytes;
  }

  /** Bytes held waiting for the rest of a box. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Feeds bytes; returns every box completed by them, in order. */
  push(chunk: Buffer): Mp4Box[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const boxes: Mp4Box[] = [];
    for (;;) {
      if (this.#buffered < 8) break;
      const head = this.#peek(16);
      let size = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      if (size === 1) {
        if (head.length < 16) break;
        const big = head.readBigUInt64BE(8);
        if (big > BigInt(this.#maxBoxBytes)) throw new Mp4FormatError(`box ${type} of ${big} bytes is too large`);
        size = Number(big);
      } else if (size === 0) {
        throw new Mp4FormatError(`box ${type} extends to the end of a live stream`);
      }
      if (size < 8) throw new Mp4FormatError(`box ${JSON.stringify(type)} has invalid size ${size}`);
      if (size > this.#maxBoxBytes) throw new Mp4FormatError(`box ${type} of ${size} bytes is too large`);
      if (this.#buffered < size) break;
      boxes.push({ type, data: this.#take(size) });
    }
    return boxes;
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length >= n || this.#chunks.length === 1) return this.#chunks[0]!.subarray(0, n);
    const all = Buffer.concat(this.#chunks);
    this.#chunks = [all];
    return all.subarray(0, n);
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.#chunks);
      out = all.subarray(0, n);
      this.#chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.#buffered -= n;
    // Copy so a long-lived box never pins a larger pipe chunk in memory.
    return Buffer.from(out);
  }
}

/** Child boxes of the box body `buf[start, end)`. */
export function childBoxes(buf: Buffer, start: number, end: number): Array<{ type: string; start: number; end: number; body: number }> {
  const out: Array<{ type: string; start: number; end: number; body: number }> = [];
  let pos = start;
  while (pos + 8 <= end) {
    let size = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    let body = pos + 8;
    if (size === 1) {
      if (pos + 16 > end) throw new Mp4FormatError(`truncated ${type}`);
      size = Number(buf.readBigUInt64BE(pos + 8));
      body = pos + 16;
    } else if (size === 0) {
      size = end - pos;
    }
    if (size < 8 || pos + size > end) throw new Mp4FormatError(`box ${JSON.stringify(type)} overruns its parent`);
    out.push({ type, start: pos, end: pos + size, body });
    pos += size;
  }
  return out;
}

function child(buf: Buffer, start: number, end: number, type: string) {
  return childBoxes(buf, start, end).find((b) => b.type === type);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Reads the initialisation segment (the concatenated `ftyp` and `moov` boxes, or `moov` alone). */
export function parseInit(data: Buffer): Mp4Init {
  const moov = child(data, 0, data.length, 'moov');
  if (!moov) throw new Mp4FormatError('no moov box in initialisation segment');
  const trex = new Map<number, { duration: number; flags: number }>();
  const mvex = child(data, moov.body, moov.end, 'mvex');
  if (mvex) {
    for (const b of childBoxes(data, mvex.body, mvex.end)) {
      if (b.type !== 'trex') continue;
      const p = b.body + 4;
      trex.set(data.readUInt32BE(p), { duration: data.readUInt32BE(p + 8), flags: data.readUInt32BE(p + 16) });
    }
  }
  const tracks: Mp4Track[] = [];
  for (const trak of childBoxes(data, moov.body, moov.end)) {
    if (trak.type !== 'trak') continue;
    const tkhd = child(data, trak.body, trak.end, 'tkhd');
    const mdia = child(data, trak.body, trak.end, 'mdia');
    if (!tkhd || !mdia) throw new Mp4FormatError('trak without tkhd or mdia');
    const id = data.readUInt32BE(tkhd.body + (data[tkhd.body] === 1 ? 20 : 12));
    const mdhd = child(data, mdia.body, mdia.end, 'mdhd');
    const hdlr = child(data, mdia.body, mdia.end, 'hdlr');
    if (!mdhd || !hdlr) throw new Mp4FormatError('mdia without mdhd or hdlr');
    const timescale = data.readUInt32BE(mdhd.body + (data[mdhd.body] === 1 ? 20 : 12));
    const handler = data.toString('latin1', hdlr.body + 8, hdlr.body + 12);
    const kind = handler === 'vide' ? 'video' : handler === 'soun' ? 'audio' : 'other';
    const defaults = trex.get(id) ?? { duration: 0, flags: 0 };
    const track: Mp4Track = { id, kind, timescale, codec: '', defaultSampleDuration: defaults.duration, defaultSampleFlags: defaults.flags };
    const minf = child(data, mdia.body, mdia.end, 'minf');
    const stbl = minf && child(data, minf.body, minf.end, 'stbl');
    const stsd = stbl && child(data, stbl.body, stbl.end, 'stsd');
    const entry = stsd && childBoxes(data, stsd.body + 8, stsd.end)[0];
    if (entry) readSampleEntry(data, entry, track);
    tracks.push(track);
  }
  return { tracks };
}

function readSampleEntry(data: Buffer, entry: { type: string; start: number; end: number; body: number }, track: Mp4Track): void {
  track.codec = entry.type;
  if (track.kind === 'video') {
    track.width = data.readUInt16BE(entry.body + 24);
    track.height = data.readUInt16BE(entry.body + 26);
    const avcC = child(data, entry.body + 78, entry.end, 'avcC');
    if (avcC && (entry.type === 'avc1' || entry.type === 'avc3')) {
      track.codec = `${entry.type}.${hex2(data[avcC.body + 1]!)}${hex2(data[avcC.body + 2]!)}${hex2(data[avcC.body + 3]!)}`;
    }
  } else if (track.kind === 'audio') {
    track.channels = data.readUInt16BE(entry.body + 16);
    track.sampleRate = data.readUInt32BE(entry.body + 24) >>> 16;
    if (entry.type === 'mp4a') {
      const esds = child(data, entry.body + 28, entry.end, 'esds');
      track.codec = `mp4a.40.${(esds && audioObjectType(data, esds.body + 4, esds.end)) || 2}`;
    } else if (entry.type === 'Opus') {
      track.codec = 'opus';
    }
  }
}

/** Reads the AAC audio object type from an `esds` descriptor chain; undefined when absent. */
function audioObjectType(data: Buffer, start: number, end: number): number | undefined {
  let pos = start;
  const readDescriptor = (): { tag: number; body: number; end: number } | undefined => {
    if (pos + 2 > end) return undefined;
    const tag = data[pos++]!;
    let size = 0;
    for (let i = 0; i < 4 && pos < end; i++) {
      const b = data[pos++]!;
      size = (size << 7) | (b & 0x7f);
      if (!(b & 0x80)) break;
    }
    return { tag, body: pos, end: Math.min(end, pos + size) };
  };
  const es = readDescriptor();
  if (!es || es.tag !== 3) return undefined;
  const flags = data[es.body + 2]!;
  pos = es.body + 3 + (flags & 0x80 ? 2 : 0);
  if (flags & 0x40) pos += 1 + data[pos]!;
  if (flags & 0x20) pos += 2;
  const dc = readDescriptor();
  if (!dc || dc.tag !== 4) return undefined;
  pos = dc.body + 13;
  const dsi = readDescriptor();
  if (!dsi || dsi.tag !== 5 || dsi.body >= dsi.end) return undefined;
  const aot = data[dsi.body]! >> 3;
  return aot === 31 && dsi.body + 1 < dsi.end ? 32 + (((data[dsi.body]! & 7) << 3) | (data[dsi.body + 1]! >> 5)) : aot;
}

function isSync(flags: number): boolean {
  return ((flags >> 16) & 1) === 0;
}

/** Reads a `moof` box (its complete bytes) against the init segment's track defaults. */
export function parseMoof(data: Buffer, init: Mp4Init): Mp4Fragment {
  const moof = child(data, 0, data.length, 'moof');
  if (!moof) throw new Mp4FormatError('not a moof box');
  const mfhd = child(data, moof.body, moof.end, 'mfhd');
  const fragment: Mp4Fragment = { sequence: mfhd ? data.readUInt32BE(mfhd.body + 4) : 0, tracks: [] };
  for (const traf of childBoxes(data, moof.body, moof.end)) {
    if (traf.type !== 'traf') continue;
    const tfhd = child(data, traf.body, traf.end, 'tfhd');
    if (!tfhd) throw new Mp4FormatError('traf without tfhd');
    const tfhdFlags = data.readUInt32BE(tfhd.body) & 0xffffff;
    const trackId = data.readUInt32BE(tfhd.body + 4);
    const track = init.tracks.find((t) => t.id === trackId);
    let p = tfhd.body + 8;
    if (tfhdFlags & 0x01) p += 8;
    if (tfhdFlags & 0x02) p += 4;
    let defaultDuration = track?.defaultSampleDuration ?? 0;
    let defaultFlags = track?.defaultSampleFlags ?? 0;
    if (tfhdFlags & 0x08) {
      defaultDuration = data.readUInt32BE(p);
      p += 4;
    }
    if (tfhdFlags & 0x10) p += 4;
    if (tfhdFlags & 0x20) defaultFlags = data.readUInt32BE(p);
    const tfdt = child(data, traf.body, traf.end, 'tfdt');
    const baseDecodeTime = tfdt ? (data[tfdt.body] === 1 ? Number(data.readBigUInt64BE(tfdt.body + 4)) : data.readUInt32BE(tfdt.body + 4)) : 0;
    let duration = 0;
    let sampleCount = 0;
    let startsWithSync: boolean | undefined;
    for (const trun of childBoxes(data, traf.body, traf.end)) {
      if (trun.type !== 'trun') continue;
      const flags = data.readUInt32BE(trun.body) & 0xffffff;
      const count = data.readUInt32BE(trun.body + 4);
      let q = trun.body + 8;
      if (flags & 0x01) q += 4;
      let firstFlags: number | undefined;
      if (flags & 0x04) {
        firstFlags = data.readUInt32BE(q);
        q += 4;
      }
      const perSample = (flags & 0x100 ? 4 : 0) + (flags & 0x200 ? 4 : 0) + (flags & 0x400 ? 4 : 0) + (flags & 0x800 ? 4 : 0);
      if (q + perSample * count > trun.end) throw new Mp4FormatError('trun overruns its box');
      for (let i = 0; i < count; i++) {
        let r = q + i * perSample;
        const d = flags & 0x100 ? data.readUInt32BE(r) : defaultDuration;
        if (flags & 0x100) r += 4;
        if (flags & 0x200) r += 4;
        const f = flags & 0x400 ? data.readUInt32BE(r) : i === 0 && firstFlags !== undefined ? firstFlags : defaultFlags;
        if (startsWithSync === undefined) startsWithSync = isSync(f);
        duration += d;
      }
      sampleCount += count;
    }
    fragment.tracks.push({ trackId, baseDecodeTime, duration, sampleCount, startsWithSync: startsWithSync ?? false });
  }
  return fragment;
}
