/**
 * Reads the synthetic source's clock code (src/protocol/clockCode.ts) from the frame a video
 * element presents: the code's corner of the frame is drawn into a small canvas and decoded.
 */
import { CLOCK_CODE, CLOCK_CODE_ROWS, readClockCode } from '../../src/protocol/clockCode';

/** Pixels per block in the reading canvas. */
const SCALE = 8;

/** A reader for one video element: `read()` → the code (`ms mod 2^bits`), or undefined. */
export function clockReader(video: HTMLVideoElement): () => number | undefined {
  const canvas = document.createElement('canvas');
  canvas.width = CLOCK_CODE.perRow * SCALE;
  canvas.height = 2 * CLOCK_CODE_ROWS * SCALE;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  return () => {
    if (!context || !video.videoWidth || !video.videoHeight) return undefined;
    // The code's geometry is in units of the frame height, whatever the rendition's size.
    const block = video.videoHeight / CLOCK_CODE.blocksPerHeight;
    context.drawImage(video, 0, 0, CLOCK_CODE.perRow * block, 2 * CLOCK_CODE_ROWS * block, 0, 0, canvas.width, canvas.height);
    return readClockCode(context.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
  };
}
