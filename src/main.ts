/** Process entry point: `tsx src/main.ts [--config file.yaml]` runs one node until SIGTERM/SIGINT. */
import { loadConfig, ConfigError } from './config/loadConfig';
import { SubsecNode } from './SubsecNode';

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
  process.stdout.write(`\nsubsec node ${config.node.id} is up.\n  Demo page:   ${url}/\n  Metrics:     ${url}/metrics\n  Signaling:   ${url.replace(/^http/, 'ws')}/ws\n\n`);
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
