/** Publishing one track: the producer options (simulcast layers, codec) and the paused state. */
import type { RtpCodecCapability, RtpEncodingParameters } from 'mediasoup-client/types';
import { SubsecError } from './errors';
import type { Publication, PublishedTrack } from './Publication';
import type { NodeConnection } from './NodeConnection';

/**
 * Simulcast layers r0/r1/r2 at ¼, ½ and full resolution. The bitrates suit up to 720p; Chrome
 * drops the layers a small capture cannot fill.
 */
const SIMULCAST_ENCODINGS: readonly RtpEncodingParameters[] = [
  { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

/** Creates the producer of one published track on `connection` (simulcast, codec choice, paused state). */
export async function produceTrack(connection: NodeConnection, publication: Publication, entry: PublishedTrack): Promise<void> {
  if (entry.track.readyState === 'ended') {
    throw new SubsecError('MEDIA_ERROR', `the ${entry.kind} track has ended`, { type: 'media' });
  }
  const { options } = publication;
  const video = entry.kind === 'video';
  const producer = await connection.produce({
    track: entry.track,
    // The tracks belong to the app and must survive transport closes on reconnection.
    stopTracks: false,
    appData: { ...publication.appData },
    ...(video
      ? {
          ...((options.simulcast ?? true)
            ? {
                encodings: SIMULCAST_ENCODINGS.map((e) => (options.codec === 'H264' ? { ...e } : { ...e, scalabilityMode: 'L1T3' })),
              }
            : {}),
          ...(options.codec ? { codec: pickCodec(connection, options.codec) } : {}),
          codecOptions: { videoGoogleStartBitrate: 1000 },
        }
      : { codecOptions: { opusStereo: false, opusDtx: true, opusFec: true } }),
  });
  if (publication.closed || connection.closed) {
    producer.close();
    connection.request('closeProducer', { producerId: producer.id }).catch(() => undefined);
    if (connection.closed) throw new SubsecError('CONNECTION_LOST', 'connection lost while publishing');
    return;
  }
  publication._attach(entry, connection, producer);
  if (entry.paused) {
    producer.pause();
    await connection.request('pauseProducer', { producerId: producer.id });
  }
}

/** The browser's send codec for `name` that the node also has (H264 packetization-mode 1 first). */
function pickCodec(connection: NodeConnection, name: 'VP8' | 'H264'): RtpCodecCapability {
  const mimeType = `video/${name}`.toLowerCase();
  const candidates = (connection.device.sendRtpCapabilities.codecs ?? []).filter((c) => c.mimeType.toLowerCase() === mimeType);
  const codec = candidates.find((c) => c.parameters?.['packetization-mode'] === 1) ?? candidates[0];
  if (!codec) throw new SubsecError('UNSUPPORTED_MEDIA', `${name} is not supported by both browser and node`);
  return codec;
}
