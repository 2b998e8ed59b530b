/**
 * The clock code burnt into the synthetic source's picture: the node's wall clock, in ms, at the
 * moment ffmpeg made the frame, drawn as black/white blocks in the top-left corner, with the
 * complement of every block below it, so a viewer reads the frame's creation time back from the
 * picture itself and a frame caught mid-change or smeared by the encoder is rejected, not misread.
 * The same idea as the bench:latency clock code, sized for a stream that may be downscaled: the
 * layout is in units of the frame height, so any rendition of the stream reads alike.
 *
 * Layout: {@link CLOCK_CODE.bits} bits of `ms mod 2^bits`, least significant first, in rows of
 * {@link CLOCK_CODE.perRow} square blocks of `height / blocksPerHeight` px from the top-left
 * corner; the complement rows follow the data rows. Pure functions: the node draws it with ffmpeg
 * filters, browsers (clients/demo) read it from a canvas.
 */

/** Geometry of the code. */
export const CLOCK_CODE = {
  /** Bits of the millisecond clock carried (the value wraps every 2^bits ms, about 4.7 hours). */
  bits: 24,
  /** Blocks per row. */
  perRow: 12,
  /** The frame height holds this many blocks: a block is `height / blocksPerHeight` px square. */
  blocksPerHeight: 15,
} as const;

/** Rows of data blocks (the complement adds as many again below). */
export const CLOCK_CODE_ROWS = Math.ceil(CLOCK_CODE.bits / CLOCK_CODE.perRow);

/** Side of one block in a frame `height` px high (whole pixels, as ffmpeg draws them). */
export function clockBlockPx(height: number): number {
  return Math.max(2, Math.round(height / CLOCK_CODE.blocksPerHeight));
}

/** Size (px) of the area the code covers in a frame `height` px high: width and height. */
export function clockCodeArea(height: number): { width: number; height: number } {
  const block = clockBlockPx(height);
  return { width: CLOCK_CODE.perRow * block, height: 2 * CLOCK_CODE_ROWS * block };
}

/**
 * ffmpeg filters that draw the code: the frame's timestamps become the wall clock when the frame
 * passes (`RTCTIME`), every block is a `drawbox` enabled by its bit of that time (one timestamp
 * for the whole frame, so all bits agree), and the timestamps are put back to a constant frame
 * rate afterwards. `between` is inserted while the timestamps are the wall clock (a drawtext of
 * the time, say), so it sees the same instant.
 */
export function clockCodeFilters(height: number, between: string[] = []): string[] {
  const block = clockBlockPx(height);
  const area = clockCodeArea(height);
  const filters = ['settb=AVTB', 'setpts=RTCTIME', `drawbox=x=0:y=0:w=${area.width}:h=${area.height}:color=black:t=fill`];
  for (let i = 0; i < CLOCK_CODE.bits; i++) {
    const x = (i % CLOCK_CODE.perRow) * block;
    const y = Math.floor(i / CLOCK_CODE.perRow) * block;
    const bit = `mod(floor(t*1000/${2 ** i})\\,2)`;
    filters.push(`drawbox=x=${x}:y=${y}:w=${block}:h=${block}:color=white:t=fill:enable='eq(${bit}\\,1)'`);
    filters.push(`drawbox=x=${x}:y=${y + CLOCK_CODE_ROWS * block}:w=${block}:h=${block}:color=white:t=fill:enable='eq(${bit}\\,0)'`);
  }
  return [...filters, ...between, 'setpts=N/(FRAME_RATE*TB)'];
}

/**
 * Reads the code from RGBA pixels holding the code's area scaled to `width` × `height` (the
 * area's aspect ratio: {@link clockCodeArea}): `ms mod 2^bits`, or undefined when a block and its
 * complement agree (a frame that cannot be trusted).
 */
export function readClockCode(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): number | undefined {
  const blockW = width / CLOCK_CODE.perRow;
  const blockH = height / (2 * CLOCK_CODE_ROWS);
  const bright = (x: number, y: number): boolean => {
    const i = (Math.floor(y) * width + Math.floor(x)) * 4;
    // Luma of the block's centre pixel.
    return 0.299 * rgba[i]! + 0.587 * rgba[i + 1]! + 0.114 * rgba[i + 2]! > 128;
  };
  let value = 0;
  for (let i = 0; i < CLOCK_CODE.bits; i++) {
    const x = ((i % CLOCK_CODE.perRow) + 0.5) * blockW;
    const y = (Math.floor(i / CLOCK_CODE.perRow) + 0.5) * blockH;
    const bit = bright(x, y);
    if (bit === bright(x, y + CLOCK_CODE_ROWS * blockH)) return undefined;
    if (bit) value += 2 ** i;
  }
  return value;
}

/**
 * How long ago (ms) a frame whose code read `code` was made, with `now` the same clock's current
 * time in ms. The code carries the clock modulo 2^bits, so the age is taken modulo that too, in
 * [-2^(bits-1), 2^(bits-1)): a reader whose clock runs slightly behind the node's gets a small
 * negative age rather than one near 2^bits.
 */
export function clockCodeAgeMs(code: number, now: number): number {
  const period = 2 ** CLOCK_CODE.bits;
  const age = (((Math.floor(now) - code) % period) + period) % period;
  return age >= period / 2 ? age - period : age;
}
