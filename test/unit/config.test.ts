import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/loadConfig';

function tmpYaml(text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-cfg-')), 'c.yaml');
  fs.writeFileSync(file, text);
  return file;
}

describe('config', () => {
  it('yields a complete single-node default from the embedded default.yaml', () => {
    const config = loadConfig({ argv: [], env: {} });
    expect(config.http.port).toBe(8080);
    expect(config.sfu.workers).toBe(0);
    expect(config.synthetic.enabled).toBe(true);
    expect(config.sfu.listenAddresses[0]!.ip).toBe('127.0.0.1');
  });

  it('rejects an unknown key and names it', () => {
    expect(() => parseConfig({ http: { prot: 1 } })).toThrowError(/http\.prot/);
  });

  it('rejects a bad value and names the key', () => {
    expect(() => parseConfig({ sfu: { consumersPerRouter: -3 } })).toThrowError(/sfu\.consumersPerRouter/);
    expect(() => parseConfig({ http: { port: 'eighty' } })).toThrowError(ConfigError);
  });

  it('reads --config and applies SUBSEC_* env overrides on top', () => {
    const file = tmpYaml('http:\n  port: 9100\nsfu:\n  consumersPerRouter: 50\n');
    const config = loadConfig({
      argv: ['--config', file],
      env: { SUBSEC_SFU_CONSUMERS_PER_ROUTER: '7', SUBSEC_HTTP_HOST: '0.0.0.0', PATH: '/bin' },
    });
    expect(config.http.port).toBe(9100);
    expect(config.sfu.consumersPerRouter).toBe(7);
    expect(config.http.host).toBe('0.0.0.0');
  });

  it('rejects an env override that names no key', () => {
    expect(() => loadConfig({ argv: [], env: { SUBSEC_HTTP_PROT: '1' } })).toThrowError(/SUBSEC_HTTP_PROT/);
  });

  it('rejects an env override with a bad value, naming the key', () => {
    expect(() => loadConfig({ argv: [], env: { SUBSEC_SFU_WORKERS: 'many' } })).toThrowError(/sfu\.workers/);
  });

  it('fails clearly when the config file is missing', () => {
    expect(() => loadConfig({ argv: ['--config=/nonexistent/x.yaml'], env: {} })).toThrowError(/cannot read config file/);
  });
});
