/**
 * The network lab: test hosts as Linux network namespaces joined through the packet-level link
 * emulator (one TUN device per host, moved into the host's namespace). Every host has an access
 * link (uplink and downlink pipes) set from a profile; a pair of hosts can instead be joined by a
 * link of their own (e.g. an intercontinental link between two nodes). The controller (this
 * process's own namespace) can be a host too, so the test process reaches the hosts' addresses.
 * Needs root. `close()` removes everything; a lab that crashed is swept by the next one.
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnOwned } from '../../src/core/spawnOwned';
import { LinkEmulator, type LinkEmulatorStats } from './LinkEmulator';
import { assertLabAvailable, ip, NAMESPACE_PREFIX, removeNamespace, sweepStaleNamespaces } from './labNamespaces';
import type { LinkParams } from './linkParams';
import { loadProfile, paramsAt, PROFILES, type NetworkProfile } from './profiles';

/** First pipe id of pair links (ids below are the hosts' access links: 2i up, 2i+1 down). */
const PAIR_PIPE_BASE = 128;
let labCounter = 0;

/** Options of {@link NetworkLab.create}. */
export interface NetworkLabOptions {
  /** Make this process's namespace a host (address `<subnet>.1`) so it can reach the others (default true). */
  controller?: boolean;
  /** Profile of the controller's access link (default `lan`). */
  controllerProfile?: NetworkProfile | string;
  /** Random seed of the emulator's loss and jitter. */
  seed?: number;
}

/** Options of {@link NetworkLab.addHost}. */
export interface HostOptions {
  /** Access-link profile (default `lan`). */
  profile?: NetworkProfile | string;
  /** Start the profile's schedule right away (default true; otherwise call `startSchedule()`). */
  startSchedule?: boolean;
}

/** A lab host: a namespace with one address. */
export class LabHost {
  /** Schedule steps applied so far, with the wall-clock time they took effect. */
  readonly scheduleLog: Array<{ at: number; atMs: number; note: string }> = [];
  profile: NetworkProfile;
  #timers: NodeJS.Timeout[] = [];
  #cut = false;

  constructor(
    readonly lab: NetworkLab,
    /** Host name inside the lab. */
    readonly name: string,
    /** Namespace name (undefined for the controller). */
    readonly ns: string | undefined,
    /** Index of its TUN device in the emulator. */
    readonly index: number,
    /** Its IPv4 address. */
    readonly address: string,
    profile: NetworkProfile,
  ) {
    this.profile = profile;
  }

  /** Pipe id of its uplink (packets from this host). */
  get upPipe(): number {
    return 2 * this.index;
  }

  /** Pipe id of its downlink (packets to this host). */
  get downPipe(): number {
    return 2 * this.index + 1;
  }

  /** Spawns `command` inside this host (own process group; killed when the lab closes). */
  spawn(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    return this.lab.spawnIn(this, command, args, options);
  }

  /** The command line prefix that runs a program in this host (`ip netns exec NS`), empty for the controller. */
  get execPrefix(): string[] {
    return this.ns ? ['ip', 'netns', 'exec', this.ns] : [];
  }

  /** Sets its access link (both directions) right now, leaving the schedule alone. */
  async setLink(up: LinkParams, down: LinkParams): Promise<void> {
    const cut = this.#cut ? { down: true } : {};
    await this.lab.emulator.setPipe(this.upPipe, { ...up, ...cut });
    await this.lab.emulator.setPipe(this.downPipe, { ...down, ...cut });
  }

  /** Applies a profile (its base parameters; the schedule from now on unless `startSchedule` is false). */
  async applyProfile(profile: NetworkProfile | string, startSchedule = true): Promise<void> {
    this.stopSchedule();
    this.profile = typeof profile === 'string' ? loadProfile(profile) : profile;
    await this.setLink(this.profile.up, this.profile.down);
    if (startSchedule) this.startSchedule();
  }

  /** Starts the profile's schedule now (each step at its `atMs` from now). */
  startSchedule(): void {
    this.stopSchedule();
    const start = Date.now();
    for (const step of this.profile.schedule) {
      const timer = setTimeout(() => {
        const { up, down } = paramsAt(this.profile, step.atMs);
        this.setLink(up, down).then(
          () => this.scheduleLog.push({ at: Date.now(), atMs: Date.now() - start, note: step.note ?? `step at ${step.atMs} ms` }),
          () => undefined, // the lab closed meanwhile
        );
      }, step.atMs);
      this.#timers.push(timer);
    }
  }

  /** Stops the schedule (the parameters in effect stay). */
  stopSchedule(): void {
    for (const t of this.#timers.splice(0)) clearTimeout(t);
  }

  /** Cuts (or restores) this host's cable: every packet from or to it is dropped, pair links included. */
  async setCut(cut: boolean): Promise<void> {
    this.#cut = cut;
    await this.setLink(this.profile.up, this.profile.down);
    await this.lab.setPairLinksCut(this, cut);
  }
}

/** A running lab. */
export class NetworkLab {
  readonly hosts: LabHost[] = [];
  readonly #children = new Set<ChildProcess>();
  readonly #pairs: Array<{ a: LabHost; b: LabHost; ab: number; ba: number; profile: NetworkProfile }> = [];
  readonly #dir: string;
  #closed = false;
  #controller: LabHost | undefined;

  private constructor(
    /** The link emulator. */
    readonly emulator: LinkEmulator,
    /** The lab's /24 prefix, e.g. `10.77.12`. */
    readonly subnet: string,
    /** Prefix of this lab's namespace names. */
    readonly prefix: string,
  ) {
    this.#dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-netlab-'));
  }

  /** Sweeps what crashed labs left, starts the emulator and (by default) joins this process as host `controller`. */
  static async create(options: NetworkLabOptions = {}): Promise<NetworkLab> {
    assertLabAvailable();
    sweepStaleNamespaces();
    const used = new Set([...ip('-4', 'addr').matchAll(/inet 10\.77\.(\d+)\./g)].map((m) => Number(m[1])));
    const free = Array.from({ length: 254 }, (_, i) => i + 1).filter((k) => !used.has(k));
    const k = free[Math.floor(Math.random() * free.length)];
    if (k === undefined) throw new Error('no free 10.77.x.0/24 subnet for the lab');
    const emulator = await LinkEmulator.start(options.seed);
    const lab = new NetworkLab(emulator, `10.77.${k}`, `${NAMESPACE_PREFIX}${process.pid}-${++labCounter}-`);
    try {
      if (options.controller ?? true) lab.#controller = await lab.#addHost('controller', options.controllerProfile ?? 'lan', false, true);
    } catch (err) {
      await lab.close();
      throw err;
    }
    return lab;
  }

  /** The controller host (this process), when the lab has one. */
  get controller(): LabHost | undefined {
    return this.#controller;
  }

  /** Creates host `name` (namespace, TUN, address, loopback up, default route) on its profile's access link. */
  async addHost(name: string, options: HostOptions = {}): Promise<LabHost> {
    return this.#addHost(name, options.profile ?? 'lan', options.startSchedule ?? true, false);
  }

  async #addHost(name: string, profileOrName: NetworkProfile | string, startSchedule: boolean, isController: boolean): Promise<LabHost> {
    if (this.#closed) throw new Error('the lab is closed');
    if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(name)) throw new Error(`lab host name "${name}" must be lower-case letters, digits and dashes`);
    if (this.hosts.some((h) => h.name === name)) throw new Error(`lab host ${name} exists already`);
    const profile = typeof profileOrName === 'string' ? loadProfile(profileOrName) : profileOrName;
    const { index, ifname } = await this.emulator.createTun('sslab%d');
    const address = `${this.subnet}.${index + 1}`;
    if (index + 1 > 250) throw new Error('too many lab hosts');
    const ns = isController ? undefined : `${this.prefix}${name}`;
    if (ns) {
      ip('netns', 'add', ns);
      ip('link', 'set', ifname, 'netns', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', ifname, 'name', 'eth0');
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'route', 'add', 'default', 'dev', 'eth0');
    } else {
      ip('addr', 'add', `${address}/24`, 'dev', ifname);
      ip('link', 'set', ifname, 'up');
    }
    await this.emulator.setAddress(index, address);
    const host = new LabHost(this, name, ns, index, address, profile);
    this.hosts.push(host);
    await host.applyProfile(profile, startSchedule);
    return host;
  }

  /** Host by name. */
  host(name: string): LabHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no lab host ${name}`);
    return h;
  }

  /**
   * Joins `a` and `b` by a link of their own with `profile` (its `up` from a to b, `down` from b to
   * a) instead of their access links: e.g. an intercontinental link between two nodes.
   */
  async linkPair(a: LabHost, b: LabHost, profileOrName: NetworkProfile | string): Promise<void> {
    const profile = typeof profileOrName === 'string' ? loadProfile(profileOrName) : profileOrName;
    const ab = PAIR_PIPE_BASE + 2 * this.#pairs.length;
    const pair = { a, b, ab, ba: ab + 1, profile };
    if (pair.ba >= 256) throw new Error('too many pair links');
    this.#pairs.push(pair);
    await this.emulator.setPipe(ab, profile.up);
    await this.emulator.setPipe(ab + 1, profile.down);
    await this.emulator.setRoute(a.index, b.index, [ab]);
    await this.emulator.setRoute(b.index, a.index, [ab + 1]);
  }

  /** Pipe ids of the pair link between `a` and `b` (`ab`: packets from a to b), if they have one. */
  pairPipes(a: LabHost, b: LabHost): { ab: number; ba: number } | undefined {
    const p = this.#pairs.find((x) => x.a === a && x.b === b) ?? this.#pairs.find((x) => x.a === b && x.b === a);
    if (!p) return undefined;
    return p.a === a ? { ab: p.ab, ba: p.ba } : { ab: p.ba, ba: p.ab };
  }

  /** @internal Cuts or restores the pair links of `host`. */
  async setPairLinksCut(host: LabHost, cut: boolean): Promise<void> {
    for (const p of this.#pairs) {
      if (p.a !== host && p.b !== host) continue;
      await this.emulator.setPipe(p.ab, cut ? { ...p.profile.up, down: true } : p.profile.up);
      await this.emulator.setPipe(p.ba, cut ? { ...p.profile.down, down: true } : p.profile.down);
    }
  }

  /** @internal Spawns a process in `host`; see {@link LabHost.spawn}. */
  spawnIn(host: LabHost, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    if (this.#closed) throw new Error('the lab is closed');
    const argv = [...host.execPrefix, command, ...args];
    const child = spawnOwned(argv[0]!, argv.slice(1), { ...options, detached: true });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** A script that runs Chromium inside `host` (for playwright's `executablePath`). */
  chromiumExecutable(host: LabHost, chromium = '/usr/bin/chromium'): string {
    const file = path.join(this.#dir, `chromium-${host.name}.sh`);
    fs.writeFileSync(file, `#!/bin/sh\nexec ${[...host.execPrefix, chromium].join(' ')} "$@"\n`, { mode: 0o755 });
    return file;
  }

  /** The emulator's counters and CPU time. */
  stats(): Promise<LinkEmulatorStats> {
    return this.emulator.stats();
  }

  /** Stops schedules, kills every process the lab started (and anything left in its namespaces), removes the namespaces and the emulator. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const h of this.hosts) h.stopSchedule();
    for (const child of this.#children) {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }
    for (const h of this.hosts) if (h.ns) removeNamespace(h.ns);
    await this.emulator.close();
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}

export { PROFILES };
