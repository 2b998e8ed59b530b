/**
 * Standalone relay: `tsx relay/main.ts [--config file.yaml]` runs only the MoQ relay, reading
 * the node's config file (its `moq.relay` section and `auth.jwtSecret`) until SIGTERM/SIGINT.
 */
import './polyfills';
import { loadConfig, ConfigError } from '../src/config/loadConfig';
import { TokenService } from '../src/auth/tokens';
import { createLogger, setLogLevel } from '../src/core/logger';
import { RelayServer } from './RelayServer';
import { RedisBanStore } from '../src/moderation/RedisBanStore';
import { RoomAdmission } from '../src/moderation/RoomAdmission';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`subsec-relay: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  setLogLevel(config.logLevel);
  const log = createLogger(`relay:${config.node.id}`);
  // With the cascade's Redis, the nodes' bans (kicked identities) apply to sessions here too.
  const bans =
    config.cascade.coordinator === 'redis'
      ? new RedisBanStore({ redis: config.redis, nodeId: `relay:${config.node.id}`, refreshMs: config.bans.refreshMs, log: log.child('bans') })
      : undefined;
  if (bans) await bans.start();
  const tokens = TokenService.fromConfig(config.auth, bans ? new RoomAdmission(bans) : undefined);
  const relay = new RelayServer({
    config: config.moq.relay,
    tokens,
    name: config.node.id,
    log,
  });
  const addresses = await relay.start();
  process.stdout.write(
    `\nsubsec MoQ relay ${config.node.id} is up.\n  WebSocket (QMux):    ${addresses.url}/<path>?jwt=<token>\n` +
      (addresses.http3Url
        ? `  WebTransport (HTTP/3, UDP): ${addresses.http3Url}/<path>?jwt=<token>  (certificate sha-256 ${relay.certificateSha256}; ${addresses.url}/certificate.sha256)\n`
        : '') +
      (addresses.webtransportUrl
        ? `  WebTransport (HTTP/2): ${addresses.webtransportUrl}/<path>?jwt=<token>  (certificate sha-256 ${addresses.fingerprint})\n`
        : '') +
      '\n',
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info(`received ${signal}; closing`);
    Promise.all([relay.close(), bans?.close()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`subsec-relay: failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
