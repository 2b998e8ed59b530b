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
  /** Cap of the bandwidth estimate towards one peer (bps); 0 = uncapped. */
  maxOutgoingBitrate: number;
  /**
   * The WebRtcServer of the router's worker, when `sfu.webRtcServer` is enabled: transports
   * then share its one UDP and one TCP port instead of taking ports from the range.
   */
  webRtcServerFor?: (router: types.Router) => Promise<types.WebRtcServer | undefined>;
}

/**
 * Creates a WebRTC transport (UDP preferred, TCP fallback) with optional SCTP. Bandwidth
 * estimation (mediasoup's own stack, transport-cc or REMB as negotiated) is on for both
 * directions: towards viewers it drives layer selection and probing from
 * `initialAvailableOutgoingBitrate`, capped by `maxOutgoingBitrate`; from publishers it sends the
 * feedback their encoders adapt to, capped by `maxIncomingBitrate`. No minimum outgoing bitrate:
 * a floor would keep sending layers a congested link cannot carry. See docs/operations.md.
 */
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
    enableBwe: true,
    initialAvailableOutgoingBitrate: settings.initialAvailableOutgoingBitrate,
    ...(opts.direction === 'recv' && settings.maxOutgoingBitrate > 0 ? { maxOutgoingBitrate: settings.maxOutgoingBitrate } : {}),
    ...(opts.direction === 'send' && settings.maxIncomingBitrate > 0 ? { maxIncomingBitrate: settings.maxIncomingBitrate } : {}),
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
  return transport;
}
