import { spawn } from 'node:child_process';
import { startNode } from '../test/helpers/startNode';
async function main() {
  const mode = process.argv[2] ?? 'rtmp';
  const node = await startNode({ rtmp: { enabled: true, port: 0 }, srt: { enabled: true, port: 0 }, hls: { segmentTargetMs: 1000, renditions: [{ name: 'src', copySource: true, videoKbps: 1000 }] } });
  const token = node.tokens.issue({ room: 'b', identity: 's', canPublish: true });
  const target = mode === 'rtmp' ? ['-f', 'flv', `rtmp://127.0.0.1:${node.rtmp!.port}/live/b/s?token=${token}`] : ['-f', 'mpegts', `srt://127.0.0.1:${node.srt!.port}?streamid=#!::r=b/s,m=publish,t=${token}&latency=120000`];
  const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', ...target], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 4000));
  await fetch(`${node.url}/hls/b/s/index.m3u8`);
  await new Promise((r) => setTimeout(r, 10000));
  const hs = (node as any).hls.get('b', 's');
  for (const r of hs.renditions) {
    const parts = r.packager.segments.flatMap((sg: any) => sg.parts.map((x: any) => x.publishedAt));
    const d = parts.slice(1).map((t: number, k: number) => t - parts[k]);
    console.log(mode, r.spec.name, d.join(' '));
  }
  p.kill('SIGKILL');
  await node.close();
  process.exit(0);
}
void main();
