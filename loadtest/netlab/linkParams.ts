/**
 * Parameters of one direction of an emulated link, in the units people use (ms, %, kbit/s), and
 * their translation into the link emulator's `pipe` command.
 */
import { z } from 'zod';

/** Gilbert–Elliott bursty loss: a good and a bad state, switched per packet. */
export const burstLossSchema = z.strictObject({
  /** Chance (%) per packet of going from the good to the bad state. */
  enterBadPct: z.number().min(0).max(100),
  /** Chance (%) per packet of leaving the bad state (mean burst length = 100 / leaveBadPct packets). */
  leaveBadPct: z.number().min(0).max(100),
  /** Share (%) of packets lost while in the bad state. */
  lossInBadPct: z.number().min(0).max(100),
  /** Share (%) of packets lost while in the good state (default 0). */
  lossInGoodPct: z.number().min(0).max(100).optional(),
});

/** One direction of a link. Every field is optional: absent means no effect. */
export const linkParamsSchema = z.strictObject({
  /** Fixed one-way delay (ms). */
  delayMs: z.number().min(0).max(10_000).optional(),
  /** Standard deviation of the one-way delay around `delayMs` (ms, Gaussian). */
  jitterMs: z.number().min(0).max(5_000).optional(),
  /**
   * With jitter: let packets overtake each other (each packet's delay drawn on its own). Without
   * (default) the delay wanders smoothly (moving linearly between random values every 50 ms) and order is kept.
   */
  reorder: z.boolean().optional(),
  /** Random (independent) packet loss (%). */
  lossPct: z.number().min(0).max(100).optional(),
  /** Bursty loss (Gilbert–Elliott), on top of `lossPct`. */
  burstLoss: burstLossSchema.optional(),
  /** Bottleneck rate (kbit/s, IP bytes); absent = unlimited. */
  rateKbps: z.number().min(8).max(10_000_000).optional(),
  /** Queue in front of the bottleneck, as ms of data at `rateKbps` (default 100; tail drop beyond). */
  queueMs: z.number().min(1).max(10_000).optional(),
  /** Drop every UDP packet (only TCP and ICMP pass). */
  blockUdp: z.boolean().optional(),
  /** Drop everything (a cut cable). */
  down: z.boolean().optional(),
});

/** One direction of a link. */
export type LinkParams = z.infer<typeof linkParamsSchema>;

/** Queue depth used when `queueMs` is absent. */
export const DEFAULT_QUEUE_MS = 100;
/** Correlation time of in-order jitter (µs). */
export const JITTER_TAU_US = 50_000;

/** The emulator's `key=value` settings for `params` (every key, so an update resets what is absent). */
export function pipeSettings(params: LinkParams): string {
  const rateBps = (params.rateKbps ?? 0) * 1000;
  const queueBytes = rateBps > 0 ? Math.max(3000, Math.round((rateBps / 8) * ((params.queueMs ?? DEFAULT_QUEUE_MS) / 1000))) : 0;
  const b = params.burstLoss;
  const kv: Record<string, number> = {
    delay_us: Math.round((params.delayMs ?? 0) * 1000),
    jitter_us: Math.round((params.jitterMs ?? 0) * 1000),
    jitter_tau_us: params.reorder ? 0 : JITTER_TAU_US,
    reorder: params.reorder ? 1 : 0,
    loss: (params.lossPct ?? 0) / 100,
    ge_p: b ? b.enterBadPct / 100 : 0,
    ge_r: b ? b.leaveBadPct / 100 : 0,
    ge_loss_bad: b ? b.lossInBadPct / 100 : 0,
    ge_loss_good: b ? (b.lossInGoodPct ?? 0) / 100 : 0,
    rate_bps: rateBps,
    queue_bytes: queueBytes,
    block_udp: params.blockUdp ? 1 : 0,
    down: params.down ? 1 : 0,
  };
  return Object.entries(kv)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** Long-run loss share (0..1) that `params` produce (random and bursty loss together). */
export function expectedLoss(params: LinkParams): number {
  const random = (params.lossPct ?? 0) / 100;
  const b = params.burstLoss;
  let burst = 0;
  if (b && b.enterBadPct + b.leaveBadPct > 0) {
    const pBad = b.enterBadPct / (b.enterBadPct + b.leaveBadPct);
    burst = pBad * (b.lossInBadPct / 100) + (1 - pBad) * ((b.lossInGoodPct ?? 0) / 100);
  }
  return 1 - (1 - random) * (1 - burst);
}
