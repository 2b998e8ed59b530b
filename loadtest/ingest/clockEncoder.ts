/**
 * The publisher of the ingest latency measurements (bench:ingest, srt-stages): ffmpeg paints the
 * wall clock into each frame as it generates it and encodes it as a low-latency live encoder
 * would — x264 ultrafast, zerolatency (no lookahead, no B-frames, sliced threads), constrained
 * baseline, a key frame every second, 1 Mbit/s. Nothing here is tuned for the node.
 */

/** Geometry of the clock code: 48 bits of Date.now() as 32 px blocks, 16 per row (512x96), complement below (512x96). */
export const CODE = { block: 32, bits: 48, perRow: 16 };

/**
 * ffmpeg filter graph: a 512x192 clock code (pts = wall clock while painting) — 48 bits in three
 * rows, their complement in the three rows below, so a reader accepts a frame only when both
 * halves agree (as bench:latency's clock-code.js does) — padded to 640x360.
 */
export function clockSource(): string {
  const codeHeight = CODE.block * Math.ceil(CODE.bits / CODE.perRow);
  const bit = `mod(floor(floor(T*1000)/pow(2\\,floor(X/${CODE.block})+${CODE.perRow}*floor(mod(Y\\,${codeHeight})/${CODE.block})))\\,2)`;
  return [
    `color=c=gray:s=${CODE.block * CODE.perRow}x${2 * codeHeight}:r=30`,
    'format=gray',
    'settb=expr=1/1000',
    'setpts=RTCTIME/1000',
    // Upper half: the bit; lower half: its complement.
    `geq=lum='255*abs(${bit}-gte(Y\\,${codeHeight}))'`,
    'setpts=N*1000/30',
    'pad=640:360:0:0:gray',
    'format=yuv420p',
  ].join(',');
}

/**
 * ffmpeg input and encoder arguments of the clock publisher (add the output's `-f …` and URL).
 * `audio`: a 440 Hz tone as AAC 128 kbit/s too, as an encoder with a microphone sends it.
 */
export function clockEncoderArgs(audio = false): string[] {
  return [
    '-re',
    '-f',
    'lavfi',
    '-i',
    // The tone comes from the same graph: a second input would get its own reader thread, which
    // paints frames up to its queue (8) ahead of -re's pace and so dates them 300 ms too early.
    audio ? `${clockSource()}[out0];sine=f=440:r=48000[out1]` : clockSource(),
    ...(audio ? ['-c:a', 'aac', '-b:a', '128k'] : []),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-tune',
    'zerolatency',
    '-profile:v',
    'baseline',
    '-g',
    '30',
    '-b:v',
    '1M',
  ];
}

/** Reads the clock code from a grey (one byte per pixel) picture `width` wide: the painted time, or undefined when the halves disagree. */
export function readClockCode(gray: Uint8Array, width: number): number | undefined {
  const rows = Math.ceil(CODE.bits / CODE.perRow);
  let sent = 0;
  for (let i = 0; i < CODE.bits; i++) {
    const x = (i % CODE.perRow) * CODE.block + CODE.block / 2;
    const y = Math.floor(i / CODE.perRow) * CODE.block + CODE.block / 2;
    const bit = gray[y * width + x]! > 128;
    const inverse = gray[(y + rows * CODE.block) * width + x]! > 128;
    if (bit === inverse) return undefined;
    if (bit) sent += 2 ** i;
  }
  return sent;
}
