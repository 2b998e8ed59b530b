/**
 * Real SDP offers for WHIP/WHEP load, made once by libdatachannel (node-datachannel) and reused:
 * the node does the full session set-up work for each POST (parse, transport, producers or
 * consumers, answer) whether or not ICE ever connects.
 */
import nodeDataChannel from 'node-datachannel';

/** Creates an offer with H264 video and Opus audio, `recvonly` (WHEP) or `sendonly` (WHIP). */
export async function makeOffer(direction: 'recvonly' | 'sendonly', timeoutMs = 3000): Promise<string> {
  const pc = new nodeDataChannel.PeerConnection('loadtest-offer', { iceServers: [] });
  try {
    const dir = direction === 'recvonly' ? 'RecvOnly' : 'SendOnly';
    const video = new nodeDataChannel.Video('0', dir);
    video.addH264Codec(102);
    const audio = new nodeDataChannel.Audio('1', dir);
    audio.addOpusCodec(111);
    if (direction === 'sendonly') {
      video.addSSRC(0x1a2b3c, 'loadtest', 'loadtest', 'video');
      audio.addSSRC(0x4d5e6f, 'loadtest', 'loadtest', 'audio');
    }
    pc.addTrack(video);
    pc.addTrack(audio);
    const gathered = new Promise<void>((resolve) => pc.onGatheringStateChange((s: string) => s === 'complete' && resolve()));
    pc.setLocalDescription();
    await Promise.race([gathered, new Promise((r) => setTimeout(r, timeoutMs))]);
    const sdp = pc.localDescription()?.sdp;
    if (!sdp) throw new Error('libdatachannel produced no offer');
    return sdp;
  } finally {
    pc.close();
  }
}
