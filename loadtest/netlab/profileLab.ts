/**
 * The lab behind `loadtest <scenario> --profile P`: a `node` host on `lan` for the node the tool
 * starts, and this process (where the scenario's bots run) as the lab's controller host, whose
 * access link gets profile P — so every bot's packets to and from the node cross P.
 */
import { UsageError } from '../core/safety';
import { assertLabAvailable, LabUnavailableError } from './labNamespaces';
import { NetworkLab, type LabHost } from './NetworkLab';
import { loadProfile, type NetworkProfile } from './profiles';

/** A lab opened for one load run. */
export interface ProfileLab {
  readonly profile: NetworkProfile;
  /** Where the node runs. */
  readonly nodeHost: LabHost;
  /** Lines for the report: the profile and what the emulator did. */
  notes(): Promise<string[]>;
  close(): Promise<void>;
}

/** Opens the lab for `--profile nameOrFile`; a usage error (exit 2) when the profile is bad or the lab cannot run here (not root). */
export async function openProfileLab(nameOrFile: string): Promise<ProfileLab> {
  let profile: NetworkProfile;
  try {
    profile = loadProfile(nameOrFile);
  } catch (err) {
    throw new UsageError(`--profile: ${(err as Error).message}`);
  }
  try {
    assertLabAvailable();
  } catch (err) {
    if (err instanceof LabUnavailableError) throw new UsageError(`--profile: ${err.message}`);
    throw err;
  }
  const lab = await NetworkLab.create({ controller: true, controllerProfile: profile });
  let nodeHost: LabHost;
  try {
    nodeHost = await lab.addHost('node', { profile: 'lan' });
  } catch (err) {
    await lab.close();
    throw err;
  }
  const controller = lab.controller!;
  return {
    profile,
    nodeHost,
    async notes() {
      const s = await lab.stats();
      const up = s.pipes[String(controller.upPipe)];
      const down = s.pipes[String(controller.downPipe)];
      const dropped = (p: typeof up) => (p ? p.dropLoss + p.dropQueue + p.dropUdp + p.dropDown : 0);
      return [
        `Network profile ${profile.name}: ${profile.description} (the bots' link; the node's host is on lan; see docs/network-lab.md).`,
        `Link emulator: bots→node ${up?.pktsIn ?? 0} packets, ${dropped(up)} dropped; node→bots ${down?.pktsIn ?? 0} packets, ${dropped(down)} dropped ` +
          `(${down?.dropLoss ?? 0} loss, ${down?.dropQueue ?? 0} queue, ${down?.dropUdp ?? 0} UDP blocked); emulator CPU ${s.cpuSeconds.toFixed(2)} s.` +
          (controller.scheduleLog.length ? ` Schedule: ${controller.scheduleLog.map((e) => `${(e.atMs / 1000).toFixed(1)} s ${e.note}`).join(', ')}.` : ''),
      ];
    },
    close: () => lab.close(),
  };
}
