/**
 * The node-to-node pipe protocol, carried by the coordinator's RPC. The pulling (downstream) node
 * creates its PipeTransport first and asks the upstream node (origin or relay) to open a pipe to
 * it; the upstream answers with its own tuple and the producers it consumes into the pipe; the
 * downstream then produces them with the same ids. Later changes flow as one-way notes.
 *
 *   downstream ──pipe.open {pipeId, room, identity, epoch, tuple, srtp?}──▶ upstream
 *              ◀── {tuple, srtp?, displayName?, producers[]} ───────────────
 *              ◀── pipe.producerAdded / producerClosed / producerPaused / producerResumed / closed
 *              ──pipe.close {pipeId}──▶
 *
 * Every message is validated: a node never trusts another node's input more than a client's.
 */
import { z } from 'zod';

/** RPC method names. */
export const PipeMethod = {
  open: 'cascade.pipe.open',
  close: 'cascade.pipe.close',
  producerAdded: 'cascade.pipe.producerAdded',
  producerClosed: 'cascade.pipe.producerClosed',
  producerPaused: 'cascade.pipe.producerPaused',
  producerResumed: 'cascade.pipe.producerResumed',
  closed: 'cascade.pipe.closed',
} as const;

/** `pipe.closed` reason when the stream's origin node died (downstreams tell their viewers `originLost`). */
export const ORIGIN_DIED = 'origin-died';

const id = z.string().min(1).max(128);
const tuple = z.strictObject({ ip: z.string().min(1).max(256), port: z.number().int().min(1).max(65535) });
const srtp = z.strictObject({ cryptoSuite: z.string().min(1).max(64), keyBase64: z.string().min(1).max(256) });

/** A producer as piped: what the downstream needs to produce it. */
export const pipedProducerSchema = z.strictObject({
  id,
  kind: z.enum(['audio', 'video']),
  rtpParameters: z.record(z.string(), z.unknown()),
  paused: z.boolean(),
  /** The producer's public appData (what viewers see in ProducerInfo). */
  appData: z.record(z.string(), z.unknown()),
});
/** A producer as piped. */
export type PipedProducer = z.infer<typeof pipedProducerSchema>;

/** `pipe.open` request. */
export const pipeOpenSchema = z.strictObject({
  /** Chosen by the downstream; names the pipe in every later message. */
  pipeId: id,
  room: z.string().min(1).max(256),
  identity: z.string().min(1).max(256),
  /** Epoch of the origin lease the downstream read; the upstream refuses any other. */
  epoch: z.number().int().min(1),
  /** Where the downstream's PipeTransport listens. */
  tuple,
  /** The downstream's SRTP parameters when it wants an encrypted pipe. */
  srtp: srtp.optional(),
});
/** `pipe.open` request. */
export type PipeOpen = z.infer<typeof pipeOpenSchema>;

/** `pipe.open` answer. */
export const pipeOpenedSchema = z.strictObject({
  tuple,
  srtp: srtp.optional(),
  displayName: z.string().max(256).optional(),
  /** Hops from the origin of the upstream node (0 = the upstream is the origin). */
  depth: z.number().int().min(0),
  producers: z.array(pipedProducerSchema).max(64),
});
/** `pipe.open` answer. */
export type PipeOpened = z.infer<typeof pipeOpenedSchema>;

/** Notes naming a pipe, and optionally a producer or a reason. */
export const pipeNoteSchema = z.strictObject({ pipeId: id, producerId: id.optional(), reason: z.string().max(256).optional() });
/** `pipe.producerAdded` note. */
export const pipeProducerAddedSchema = z.strictObject({ pipeId: id, producer: pipedProducerSchema });
