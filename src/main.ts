/** Process entry point: `tsx src/main.ts [--config file.yaml]` runs one node until SIGTERM/SIGINT. */
import { loadConfig, ConfigError } from './config/loadConfig';
import { SubsecNode } from './SubsecNode';

/** The lines printed once the node is up: every entry point that is switched on. */
function startBanner(node: SubsecNode, url: string): string {
  const c = node.config;
  const lines = [`subsec node ${c.node.id} is up.`];
  if (c.http.demo) {
    lines.push(`  Start page:     ${url}/  (the test stream over WebRTC, MoQ and LL-HLS, latency measured in your browser)`);
    lines.push(`  Apps:           ${url}/apps/  (live auction, watch party)   Your camera: ${url}/room/`);
  }
  if (c.synthetic.enabled && node.hls) lines.push(`  LL-HLS (demo):  ${url}/hls/${c.synthetic.room}/synthetic/index.m3u8`);
  lines.push(`  WHIP / WHEP:    ${url}/whip/<room>/<stream>   ${url}/whep/<room>/<stream>`);
  if (c.synthetic.enabled && node.hls && c.dash.enabled) lines.push(`  LL-DASH (demo): ${url}/dash/${c.synthetic.room}/synthetic/manifest.mpd`);
  if (node.srt) lines.push(`  SRT ingest:     srt://${c.http.host}:${node.srt.port}?streamid=#!::r=<room>/<stream>,m=publish,t=<token>`);
  if (node.rtmp) lines.push(`  RTMP ingest:    rtmp://${c.http.host}:${node.rtmp.port}/${c.rtmp.app}  (stream key <room>/<stream>?token=<token>)`);
  if (node.rtsp) lines.push(`  RTSP cameras:   POST ${url}/v1/ingest/rtsp  (the node pulls rtsp:// sources)`);
  if (node.moqRelay) lines.push(`  MoQ relay:      ${node.moqRelay.addresses.url}`);
  if (node.moqRelay?.addresses.http3Url)
    lines.push(
      `  MoQ over QUIC:  ${node.moqRelay.addresses.http3Url} (WebTransport/HTTP3, certificate sha-256 at ${node.moqRelay.addresses.url}/certificate.sha256)`,
    );
  if (node.qoe && c.qoe.dashboard) lines.push(`  QoE dashboard:  ${url}/qoe/  (admin key)`);
  lines.push(`  Signaling:      ${url.replace(/^http/, 'ws')}/ws`);
  lines.push(`  REST API:       ${url}/v1/docs  (reference; document at ${url}/v1/openapi.json)`);
  lines.push(`  Metrics:        ${url}/metrics`);
  return `\n${lines.join('\n')}\n\n`;
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`subsec: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const node = new SubsecNode(config);
  const url = await node.start();
  process.stdout.write(startBanner(node, url));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    node.log.info(`received ${signal}; draining`);
    node.drain().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`subsec: failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
