/** The relay's QUIC certificate store: self-signed ECDSA P-256 ≤ 14 days, replaced before it expires; operator files as given. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CertificateStore } from '../../../relay/transport/CertificateStore';
import { createLogger } from '../../../src/core/logger';
import { waitFor } from '../../../loadtest/core/waitFor';

const log = createLogger('test-cert');

describe('CertificateStore', () => {
  it('makes an ECDSA P-256 certificate valid for the configured days and rotates it before expiry', async () => {
    // Valid 1 day, to be replaced 36 h before expiry: every check finds it due.
    const store = new CertificateStore({ host: '127.0.0.1', validityDays: 1, rotateBeforeMs: 36 * 3_600_000, checkEveryMs: 100, log });
    try {
      const first = await store.start();
      const x509 = new crypto.X509Certificate(first.cert);
      expect(x509.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: 'prime256v1' });
      const days = (Date.parse(x509.validTo) - Date.parse(x509.validFrom)) / 86_400_000;
      expect(days).toBeGreaterThan(0.9);
      expect(days).toBeLessThanOrEqual(14);
      expect(first.fingerprint).toBe(crypto.createHash('sha256').update(x509.raw).digest('hex'));
      await waitFor(() => store.rotations >= 1, { timeoutMs: 10_000, what: 'automatic rotation' });
      expect(store.current.fingerprint).not.toBe(first.fingerprint);
    } finally {
      store.close();
    }
  }, 20_000);

  it("keeps an operator's certificate (no automatic rotation)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cert-store-'));
    try {
      const seed = new CertificateStore({ host: '127.0.0.1', validityDays: 1, rotateBeforeMs: 1000, log });
      const made = await seed.start();
      seed.close();
      fs.writeFileSync(path.join(dir, 'cert.pem'), made.cert);
      fs.writeFileSync(path.join(dir, 'key.pem'), made.key);
      const store = new CertificateStore({
        host: '127.0.0.1',
        certFile: path.join(dir, 'cert.pem'),
        keyFile: path.join(dir, 'key.pem'),
        validityDays: 1,
        rotateBeforeMs: 36 * 3_600_000,
        checkEveryMs: 50,
        log,
      });
      const loaded = await store.start();
      expect(loaded.fingerprint).toBe(made.fingerprint);
      expect(loaded.selfSigned).toBe(false);
      await new Promise((r) => setTimeout(r, 300));
      expect(store.rotations).toBe(0);
      store.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);
});
