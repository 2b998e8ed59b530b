/**
 * The cascade rig of the network lab (test and bench:network): Redis, an origin node and an edge
 * node each on a host of their own, origin and edge joined by a pair link with the
 * `intercontinental` profile (or another), pipe addresses configured as a real deployment's
 * (`cascade.pipe.listenIp` = the host's address), and the Chromium publisher on the origin.
 */
import net from 'node:net';
import type { LocalNode } from '../core/LocalNode';
import { MediaLab } from './MediaLab';
import type { LabHost } from './NetworkLab';
import type { NetworkProfile } from './profiles';

const REDIS_PORT = 6379; // inside the redis host's own namespace, where nothing else listens

/** A running cascade rig. */
export interface CascadeRig {
  rig: MediaLab;
  redisHost: LabHost;
  originHost: LabHost;
  edgeHost: LabHost;
  edge: LocalNode;
}

async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${host}:${port} did not accept connections within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the cascade rig and the publisher (on the origin). */
export async function startCascadeRig(link: NetworkProfile | string = 'intercontinental'): Promise<CascadeRig> {
  let redisHost: LabHost | undefined;
  const config = (id: string, region: string, host: LabHost): Record<string, unknown> => ({
    node: { id, region },
    redis: { url: `redis://${redisHost!.address}:${REDIS_PORT}` },
    cascade: { coordinator: 'redis', redirect: 'never', lingerMs: 300, pipe: { listenIp: host.address } },
  });
  const rig = await MediaLab.start({
    nodeHostName: 'origin',
    beforeNode: async (lab) => {
      redisHost = await lab.addHost('redis');
      redisHost.spawn(
        'redis-server',
        ['--bind', redisHost.address, '--port', String(REDIS_PORT), '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
        { stdio: 'ignore' },
      );
      await waitForPort(redisHost.address, REDIS_PORT, 10_000);
    },
    nodeConfig: (host) => config('origin', 'eu', host),
  });
  try {
    const { host: edgeHost, node: edge } = await rig.addNode('edge', (host) => config('edge', 'us', host));
    await rig.lab.linkPair(rig.nodeHost, edgeHost, link);
    // The publisher knows the edge too, so it republishes there when the origin is unreachable.
    await rig.publish({ clientOptions: { nodes: [edge.url], heartbeatIntervalMs: 1000, reconnect: { initialDelayMs: 200, maxDelayMs: 2000 } } });
    return { rig, redisHost: redisHost!, originHost: rig.nodeHost, edgeHost, edge };
  } catch (err) {
    await rig.close();
    throw err;
  }
}
