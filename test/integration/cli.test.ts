/**
 * The `subsec` command (bin/subsec.mjs → tsx → src/cli) run as a real process against a real
 * node: help, exit codes, tables and --json; and `subsec start` running a node until SIGTERM.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import { projectRoot } from '../../src/config/loadConfig';
import { startNode } from '../helpers/startNode';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { waitFor } from '../../loadtest/core/waitFor';

const BIN = path.join(projectRoot, 'bin', 'subsec.mjs');
const ADMIN = 'cli-test-admin-key';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (env without SUBSEC_* so the test's flags decide). */
function cli(args: string[], timeoutMs = 20_000): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SUBSEC_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, cwd: os.tmpdir() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`subsec ${args.join(' ')} did not exit in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

let node: SubsecNode;
let auth: string[];
const clients: SignalingTestClient[] = [];

beforeAll(async () => {
  node = await startNode({ auth: { adminKey: ADMIN } });
  auth = ['--url', node.url, '--admin-key', ADMIN];
  for (const [room, identity] of [
    ['cli-a', 'ann'],
    ['cli-a', 'ben'],
    ['cli-b', 'cat'],
  ]) {
    const c = await SignalingTestClient.connect(node.url);
    clients.push(c);
    await c.call('join', { protocol: 1, token: node.tokens.issue({ room: room!, identity: identity!, canPublish: true }) });
  }
  const { transportId } = await clients[0]!.call('createTransport', { direction: 'send' });
  await clients[0]!.call('produce', {
    transportId,
    kind: 'video',
    rtpParameters: {
      codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {}, rtcpFeedback: [] }],
      encodings: [{ ssrc: 7 }],
      headerExtensions: [],
      rtcp: { cname: 'x' },
    },
  });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await node?.close();
});

describe('subsec CLI', () => {
  it('prints help (exit 0), and usage errors exit 2', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const cmd of ['start', 'token create', 'rooms list', 'rooms close', 'streams list', 'nodes list']) expect(help.stdout).toContain(cmd);
    const sub = await cli(['rooms', 'list', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain('--limit');
    expect((await cli([])).code).toBe(2);
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command');
    expect((await cli(['rooms'])).code).toBe(2);
    const badOption = await cli(['rooms', 'list', '--colour', ...auth]);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain('--colour');
    expect((await cli(['rooms', 'list', '--limit', 'many', ...auth])).code).toBe(2);
    expect((await cli(['token', 'create', '--room', 'r', ...auth])).stderr).toContain('--identity is required');
  });

  it('creates tokens the node accepts', async () => {
    const plain = await cli(['token', 'create', '--room', 'cli-a', '--identity', 'dan', '--publish', '--ttl', '120', ...auth]);
    expect(plain.code).toBe(0);
    expect(await node.tokens.verify(plain.stdout.trim())).toMatchObject({ room: 'cli-a', identity: 'dan', canPublish: true, canSubscribe: true });
    const json = await cli(['token', 'create', '--room', '*', '--identity', 'ops', '--admin', '--no-subscribe', '--json', ...auth]);
    const body = JSON.parse(json.stdout);
    expect(body.grants).toMatchObject({ room: '*', admin: true, canSubscribe: false });
    expect(body.iceServers).toEqual([]);
  });

  it('lists rooms, streams and nodes as tables and as JSON', async () => {
    const rooms = await cli(['rooms', 'list', ...auth]);
    expect(rooms.code).toBe(0);
    expect(rooms.stdout).toMatch(/^ROOM\s+PARTICIPANTS\s+TRACKS/m);
    expect(rooms.stdout).toMatch(/^cli-a\s+2\s+1\s/m);
    expect(rooms.stdout).toMatch(/^cli-b\s+1\s+0\s/m);
    const paged = JSON.parse((await cli(['rooms', 'list', '--limit', '1', '--all', '--json', ...auth])).stdout);
    expect(paged.map((r: any) => r.name)).toEqual(['cli-a', 'cli-b']);
    const onePage = JSON.parse((await cli(['rooms', 'list', '--limit', '1', '--json', ...auth])).stdout);
    expect(onePage).toHaveLength(1);
    const show = await cli(['rooms', 'show', 'cli-a', ...auth]);
    expect(show.stdout).toContain('room cli-a: 2 participants');
    const streams = await cli(['streams', 'list', ...auth]);
    expect(streams.stdout).toMatch(/^cli-a\/ann\s+video\s/m);
    expect(JSON.parse((await cli(['streams', 'list', '--room', 'cli-b', '--json', ...auth])).stdout)).toEqual([]);
    const nodes = await cli(['nodes', 'list', ...auth]);
    expect(nodes.stdout).toMatch(/^test-node\s+local\s+http:\/\/127\.0\.0\.1:\d+\s+2\s+3\s/m);
    expect(JSON.parse((await cli(['nodes', 'list', '--json', ...auth])).stdout)[0]).toMatchObject({ id: 'test-node', self: true });
  });

  it('closes rooms; API errors exit 1, an unreachable node exits 3, a wrong key exits 1', async () => {
    const closed = await cli(['rooms', 'close', 'cli-b', ...auth]);
    expect(closed).toMatchObject({ code: 0, stdout: 'closed room cli-b\n' });
    expect(node.rooms.get('cli-b')).toBeUndefined();
    const again = await cli(['rooms', 'close', 'cli-b', ...auth]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('NOT_FOUND');
    const wrongKey = await cli(['rooms', 'list', '--url', node.url, '--admin-key', 'nope']);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('UNAUTHENTICATED');
    const closedPort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const unreachable = await cli(['nodes', 'list', '--url', `http://127.0.0.1:${closedPort}`, '--admin-key', ADMIN]);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain('cannot reach');
  });

  it('reads the node URL and admin key from --config when no flags are given', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-cli-'));
    const file = path.join(dir, 'node.yaml');
    fs.writeFileSync(file, `http:\n  publicUrl: ${node.url}\nauth:\n  adminKey: ${ADMIN}\n`);
    const r = await cli(['nodes', 'list', '--json', '--config', file]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)[0].id).toBe('test-node');
    fs.writeFileSync(file, 'http:\n  prot: 1\n');
    const bad = await cli(['nodes', 'list', '--config', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('http.prot');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('`subsec start` runs a node until SIGTERM and exits 0 after draining', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-cli-start-'));
    const file = path.join(dir, 'node.yaml');
    fs.writeFileSync(
      file,
      `node:\n  id: cli-started\nhttp:\n  port: 0\n  demo: false\nauth:\n  adminKey: ${ADMIN}\nsfu:\n  workers: 1\nsynthetic:\n  enabled: false\ndrainTimeoutMs: 500\nlogLevel: warn\n`,
    );
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SUBSEC_')));
    const child = spawn(process.execPath, [BIN, 'start', '--config', file], { env, cwd: os.tmpdir() });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', () => undefined);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await waitFor(() => /Metrics:\s+(http:\/\/\S+)\/metrics/.exec(stdout)?.[1], { what: 'node up', timeoutMs: 20_000 });
      const r = await cli(['nodes', 'list', '--json', '--url', url, '--admin-key', ADMIN]);
      expect(JSON.parse(r.stdout)[0].id).toBe('cli-started');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
