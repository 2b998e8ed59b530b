/**
 * `npm run bench:latency`: WebRTC glass-to-glass latency and time to first frame,
 * Chromium → node → Chromium on loopback. Starts its own node (or uses --url), prints the
 * figures, and ends with one JSON line: {g2gP50Ms, g2gP95Ms, firstFrameP50Ms, ...}.
 *
 * Options: --url <node base url> --admin-key <key> --seconds <sampling time, default 15>
 *          --rounds <first-frame subscriptions, default 5>
 */
import { parseArgs } from 'node:util';
import { parseConfig } from '../../src/config/loadConfig';
import { SubsecNode } from '../../src/SubsecNode';
import { launchBrowser } from '../../test/helpers/browser';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Browser-side code (plain JS so nothing is transpiled into the page). */
const PAGE_SCRIPT = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'latency-page.js'), 'utf8');
/** Geometry of the timestamp code painted by the sender: 48 bits of Date.now() as 32 px blocks. */
const CODE = { width: 640, height: 360, block: 32, bits: 48, perRow: 16 };

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      'admin-key': { type: 'string', default: 'subsec-dev-admin-key' },
      seconds: { type: 'string', default: '15' },
      rounds: { type: 'string', default: '5' },
    },
  });
  let node: SubsecNode | undefined;
  let url = values.url;
  if (!url) {
    node = new SubsecNode(parseConfig({ http: { port: 0 }, synthetic: { enabled: false }, logLevel: 'warn' }));
    url = await node.start();
  }
  const issue = async (identity: string) => {
    const res = await fetch(`${url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${values['admin-key']}` },
      body: JSON.stringify({ room: 'bench-latency', identity, canPublish: true, canSubscribe: true }),
    });
    if (!res.ok) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { token: string }).token;
  };
  const browser = await launchBrowser();
  try {
    const sender = await browser.browser.newPage();
    const receiver = await browser.browser.newPage();
    if (process.env.BENCH_DEBUG) receiver.on('console', (m) => process.stderr.write(`[receiver] ${m.text()}\n`));
    for (const page of [sender, receiver]) {
      await page.goto(`${url}/healthz`);
      await page.addScriptTag({ content: PAGE_SCRIPT });
    }
    const senderArgs = { url, token: await issue('sender'), code: CODE };
    await sender.evaluate(`window.subsecLatencyBench.senderPage(${JSON.stringify(senderArgs)})`);
    process.stderr.write('bench:latency: sender publishing; measuring...\n');
    const receiverArgs = {
      url,
      token: await issue('receiver'),
      code: CODE,
      firstFrameRounds: Number(values.rounds),
      sampleMs: Number(values.seconds) * 1000,
    };
    const result = (await receiver.evaluate(`window.subsecLatencyBench.receiverPage(${JSON.stringify(receiverArgs)})`)) as {
      firstFrameMs: number[];
      g2gMs: number[];
    };
    const summary = {
      bench: 'latency',
      path: 'webrtc chromium->node->chromium (loopback)',
      samples: result.g2gMs.length,
      g2gP50Ms: Math.round(percentile(result.g2gMs, 50)),
      g2gP95Ms: Math.round(percentile(result.g2gMs, 95)),
      g2gMinMs: Math.round(Math.min(...result.g2gMs)),
      firstFrameP50Ms: Math.round(percentile(result.firstFrameMs, 50)),
      firstFrameMs: result.firstFrameMs.map(Math.round),
    };
    console.log(`glass-to-glass: p50 ${summary.g2gP50Ms} ms, p95 ${summary.g2gP95Ms} ms over ${summary.samples} frames`);
    console.log(`first frame:    p50 ${summary.firstFrameP50Ms} ms over ${result.firstFrameMs.length} subscriptions`);
    console.log(JSON.stringify(summary));
  } finally {
    await browser.close();
    await node?.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
