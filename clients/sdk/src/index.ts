/**
 * subsec browser SDK: join a room on a subsec node, publish camera/microphone with simulcast,
 * subscribe to other peers with layer selection, exchange data messages, and survive network
 * changes through automatic reconnection.
 *
 * ```ts
 * import { connect } from '/sdk/subsec.js';
 * const client = await connect(location.origin, token);
 * const publication = await client.publish(await navigator.mediaDevices.getUserMedia({ video: true, audio: true }));
 * client.on('producerAdded', async (p) => { const s = await client.subscribe(p.producerId); video.srcObject = new MediaStream([s.track]); });
 * ```
 */
export { connect, SubsecClient } from './SubsecClient';
export type { ConnectionState, PingResult, SubscribeTarget, SubsecClientEvents } from './clientTypes';
export { Publication } from './Publication';
export type { MediaKind, PublicationEvents, PublishOptions, VideoCodecName } from './Publication';
export { Subscription } from './Subscription';
export type { Layers, SubscribeOptions, SubscriptionEvents } from './Subscription';
export type { DataMessage, DataPayload } from './DataChannels';
export { RoomEvents, randomKey } from './RoomEvents';
export { EventRejectedError } from './EventRejectedError';
export type { RoomEventsEvents, SendEventOptions, ReplayFrom } from './RoomEvents';
export { ClockSync } from './ClockSync';
export type { ClockSyncEvents, ClockSyncOptions, ClockSample } from './ClockSync';
export { PlaybackSync } from './PlaybackSync';
export { StreamPlayer } from './StreamPlayer';
export type { StreamPlayerEvents, TransportName, WatchOptions } from './StreamPlayer';
export type { PlaybackState, PlaybackSyncEvents, PlaybackSyncOptions } from './PlaybackSync';
export { QoeReporter } from './qoe/QoeReporter';
export type { QoeOptions } from './qoe/QoeReporter';
export { QoeSession } from './qoe/QoeSession';
export type { QoeFrameInfo, QoePath, QoeSessionInit, QoeSessionState } from './qoe/QoeSession';
export type { HlsJsLike } from './qoe/MediaElementQoe';
export type { ConnectOptions, ReconnectOptions } from './options';
export type { Logger } from './logger';
export { DEFAULT_RECONNECT } from './options';
export { ClientErrorCode, InvalidStateError, ServerError, SubsecError, TimeoutError } from './errors';
export type { SubsecErrorCode, SubsecErrorEvent, SubsecErrorType } from './errors';
export { SDK_PROTOCOL_VERSION as PROTOCOL_VERSION } from './NodeConnection';
export { toSignalingUrl } from './url';
export type { PeerInfo, ProducerInfo, DataProducerInfo, RoomEvent, EventPage } from '../../../src/protocol/signaling';
export { ErrorCode } from '../../../src/protocol/errors';

/** Version of this SDK build. */
export const VERSION = '0.1.0';
