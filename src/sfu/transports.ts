/** Factories for the transports the node creates, from the `sfu` config slice. */
import type { types } from 'mediasoup';
import type { Config } from '../config/schema';

/** Options for WebRTC transports derived from config. */
export interface RtcTransportSettings {
  listenAddresses: Config['sfu']['listenAddresses'];
  rtcMinPort: number;
  rtcMaxPort: number;
  initialAvailableOutgoingBitrate: number;
  maxIncomingBitrate: number;
  /**
   * The WebRtcServer of the router's worker, when `sfu.webRtcServer` is enabled: transports
   * then share its one UDP and one TCP port instead of taking ports from the range.
   */
  webRtcServerFor?: (router: types.Router) => Promise<types.WebRtcServer | undefined>;
}

/** Creates a WebRTC transport (UDP preferred, TCP fallback) with optional SCTP. */
export async function createRtcTransport(
  router: types.Router,
  settings: RtcTransportSettings,
  opts: { sctp?: boolean; direction: 'send' | 'recv'; appData?: Record<string, unknown> },
): Promise<types.WebRtcTransport> {
  const common = {
    enableUdp: true,
    enableTcp: true,
    preferUdp: true,
    enableSctp: opts.sctp ?? false,
    numSctpStreams: { OS: 1024, MIS: 1024 },
    initialAvailableOutgoingBitrate: settings.initialAvailableOutgoingBitrate,
    appData: { direction: opts.direction, ...opts.appData },
  };
  const webRtcServer = await settings.webRtcServerFor?.(router);
  let transport: types.WebRtcTransport;
  if (webRtcServer) {
    transport = await router.createWebRtcTransport({ ...common, webRtcServer });
  } else {
    const portRange = { min: settings.rtcMinPort, max: settings.rtcMaxPort };
    const listenInfos: types.TransportListenInfo[] = [];
    for (const addr of settings.listenAddresses) {
      listenInfos.push({ protocol: 'udp', ip: addr.ip, announcedAddress: addr.announcedAddress, portRange });
      listenInfos.push({ protocol: 'tcp', ip: addr.ip, announcedAddress: addr.announcedAddress, portRange });
    }
    transport = await router.createWebRtcTransport({ ...common, listenInfos });
  }
  if (opts.direction === 'send' && settings.maxIncomingBitrate > 0) {
    await transport.setMaxIncomingBitrate(settings.maxIncomingBitrate).catch(() => undefined);
  }
  return transport;
}
