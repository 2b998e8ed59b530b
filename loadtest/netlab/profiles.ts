/**
 * Named network profiles: the access link of one lab host, per direction (`up`: from the host,
 * `down`: to the host), with an optional schedule that changes it over time. The round-trip time
 * between a host on a profile and a host on `lan` is about up.delayMs + down.delayMs. The numbers
 * are documented in docs/network-lab.md; `loadProfile` also reads a custom profile from a JSON file.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { linkParamsSchema, type LinkParams } from './linkParams';

/** One step of a profile's schedule: from `atMs` after the schedule starts, these parameters apply. */
export const scheduleStepSchema = z.strictObject({
  /** Time since the schedule started (ms). */
  atMs: z.number().min(0).max(3_600_000),
  /** What the step is (for logs and reports). */
  note: z.string().max(200).optional(),
  /** Uplink parameters from this step on (merged over the profile's `up`). */
  up: linkParamsSchema.optional(),
  /** Downlink parameters from this step on (merged over the profile's `down`). */
  down: linkParamsSchema.optional(),
});

/** A network profile. */
export const networkProfileSchema = z.strictObject({
  /** Short name (letters, digits, dashes). */
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/),
  /** One line saying what it emulates. */
  description: z.string().max(300).default(''),
  /** From the host to the network. */
  up: linkParamsSchema.default({}),
  /** From the network to the host. */
  down: linkParamsSchema.default({}),
  /** Changes over time (steps in time order). */
  schedule: z.array(scheduleStepSchema).max(100).default([]),
});

/** A network profile (parsed). */
export type NetworkProfile = z.infer<typeof networkProfileSchema>;
/** One schedule step. */
export type ScheduleStep = z.infer<typeof scheduleStepSchema>;

/** Gilbert–Elliott settings giving 5 % average loss in bursts (mean burst 3.3 packets in the bad state, half of them lost). */
const WIFI_BURSTS = { enterBadPct: 3.333, leaveBadPct: 30, lossInBadPct: 50 };

/** The built-in profiles. */
export const PROFILES: Record<string, NetworkProfile> = Object.fromEntries(
  (
    [
      {
        name: 'lan',
        description: 'Wired LAN: 0.5 ms RTT, no loss, no rate limit',
        up: { delayMs: 0.25 },
        down: { delayMs: 0.25 },
      },
      {
        name: 'cable',
        description: 'Cable/DSL home line: 20 ms RTT, 50 Mbit/s down, 10 Mbit/s up, 50 ms queues',
        up: { delayMs: 10, jitterMs: 1, rateKbps: 10_000, queueMs: 50 },
        down: { delayMs: 10, jitterMs: 1, rateKbps: 50_000, queueMs: 50 },
      },
      {
        name: '4g',
        description: 'Mobile 4G: 60 ms RTT with 10 ms jitter per direction (±14 ms RTT), 1 % random loss each way, 8 Mbit/s down, 4 Mbit/s up, 100 ms queues',
        up: { delayMs: 30, jitterMs: 10, lossPct: 1, rateKbps: 4_000, queueMs: 100 },
        down: { delayMs: 30, jitterMs: 10, lossPct: 1, rateKbps: 8_000, queueMs: 100 },
      },
      {
        name: 'lossy-wifi',
        description: 'Busy Wi-Fi: 30 ms RTT, 2 ms jitter, 5 % bursty loss each way (Gilbert–Elliott), 20 Mbit/s',
        up: { delayMs: 15, jitterMs: 2, burstLoss: WIFI_BURSTS, rateKbps: 20_000, queueMs: 50 },
        down: { delayMs: 15, jitterMs: 2, burstLoss: WIFI_BURSTS, rateKbps: 20_000, queueMs: 50 },
      },
      {
        name: 'congested',
        description: 'Shared line: 40 ms RTT, 3 Mbit/s down that drops to 400 kbit/s from 10 s to 30 s after the schedule starts, 150 ms queue',
        up: { delayMs: 20, rateKbps: 3_000, queueMs: 150 },
        down: { delayMs: 20, rateKbps: 3_000, queueMs: 150 },
        schedule: [
          { atMs: 10_000, note: 'drop to 400 kbit/s', down: { rateKbps: 400 } },
          { atMs: 30_000, note: 'recover to 3 Mbit/s', down: { rateKbps: 3_000 } },
        ],
      },
      {
        name: 'intercontinental',
        description: 'Long-haul link between regions (node to node): 160 ms RTT, 1 ms jitter, no loss, 1 Gbit/s',
        up: { delayMs: 80, jitterMs: 1, rateKbps: 1_000_000, queueMs: 20 },
        down: { delayMs: 80, jitterMs: 1, rateKbps: 1_000_000, queueMs: 20 },
      },
      {
        name: 'udp-blocked',
        description: 'Network that drops all UDP (corporate firewall): only TCP passes; 10 ms RTT',
        up: { delayMs: 5, blockUdp: true },
        down: { delayMs: 5, blockUdp: true },
      },
    ] satisfies z.input<typeof networkProfileSchema>[]
  ).map((p) => [p.name, networkProfileSchema.parse(p)]),
);

/** Names of the built-in profiles. */
export const PROFILE_NAMES = Object.keys(PROFILES);

/** A built-in profile by name, or a custom one from a `.json` file path; throws with the reason otherwise. */
export function loadProfile(nameOrFile: string): NetworkProfile {
  const builtIn = PROFILES[nameOrFile];
  if (builtIn) return builtIn;
  if (!nameOrFile.endsWith('.json')) throw new Error(`unknown network profile "${nameOrFile}"; known: ${PROFILE_NAMES.join(', ')}, or a .json file`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(nameOrFile, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read network profile ${nameOrFile}: ${(err as Error).message}`);
  }
  const parsed = networkProfileSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`network profile ${nameOrFile} is invalid: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The parameters a profile has in effect `elapsedMs` after its schedule started. */
export function paramsAt(profile: NetworkProfile, elapsedMs: number): { up: LinkParams; down: LinkParams } {
  let up = profile.up;
  let down = profile.down;
  for (const step of profile.schedule) {
    if (step.atMs > elapsedMs) break;
    if (step.up) up = { ...profile.up, ...step.up };
    if (step.down) down = { ...profile.down, ...step.down };
  }
  return { up, down };
}
