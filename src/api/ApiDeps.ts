/** What the REST routes need from the node; built in `SubsecNode` and passed to `registerApi`. */
import type { z } from 'zod';
import type { TokenService } from '../auth/tokens';
import type { RoomManager } from '../sfu/RoomManager';
import type { OutputRegistry, RecordingController } from '../streams/OutputRegistry';
import type { StreamHub } from '../streams/StreamHub';
import type { TurnCredentials } from '../turn/TurnCredentials';
import type { ConsumerIndex } from './ConsumerIndex';
import type { Moderation } from '../moderation/Moderation';
import type { nodeSchema } from './schemas';

/** A node as `/v1/nodes` lists it. */
export type NodeView = z.infer<typeof nodeSchema>;

/** Dependencies of the REST API. */
export interface ApiDeps {
  rooms: RoomManager;
  consumers: ConsumerIndex;
  /** The stream hub (`/v1/streams`). */
  streams: Pick<StreamHub, 'list' | 'get'>;
  outputs: OutputRegistry;
  tokens: TokenService;
  /** `auth.adminKey`. */
  adminKey: string;
  /** Serve `GET /demo/token` (local demos only). */
  demoTokens: boolean;
  /** TURN credential issuer, when `turn.enabled`. */
  turn?: TurnCredentials;
  /** This node's entry in `/v1/nodes`. */
  localNode: () => Promise<NodeView>;
  /** Every node of the cluster; the cascade feature provides it (default: this node only). */
  listNodes: () => Promise<NodeView[]>;
  /** The recording feature, once one is set on the node (else the recording routes answer 501). */
  recorder: () => RecordingController | undefined;
  /** Bans (kicks keep an identity out; `/v1/bans`). */
  moderation: Moderation;
  /** Tells the webhook bridge why a participant is about to leave (`kicked`). */
  noteRemoval: (participantId: string, reason: string) => void;
  /** `info.version` of the OpenAPI document. */
  version: string;
}
