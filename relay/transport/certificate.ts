/**
 * The TLS certificate for the WebTransport-over-HTTP/2 listener: read from PEM files, or a
 * self-signed ECDSA P-256 certificate (10 days by default) made with the `openssl` CLI (browsers
 * accept such a certificate through `serverCertificateHashes`, which needs ≤ 14 days validity).
 * Its SHA-256 fingerprint is what clients pin.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate, its key and its pin. */
export interface RelayCertificate {
  cert: string;
  key: string;
  /** SHA-256 of the DER certificate, hex (what `/certificate.sha256` serves). */
  fingerprint: string;
  /** The same hash as bytes (for `serverCertificateHashes`). */
  hash: Uint8Array;
  /** Expiry (ms since the epoch). */
  notAfter: number;
  /** True when made by the relay (rotated before expiry), false for an operator's files. */
  selfSigned: boolean;
}

/** Loads `certFile`/`keyFile`, or creates a self-signed certificate for `host`. */
export async function loadCertificate(opts: { certFile?: string; keyFile?: string; host: string; validityDays?: number }): Promise<RelayCertificate> {
  let cert: string;
  let key: string;
  if (opts.certFile && opts.keyFile) {
    cert = await fs.readFile(opts.certFile, 'utf8');
    key = await fs.readFile(opts.keyFile, 'utf8');
  } else {
    ({ cert, key } = await selfSigned(opts.host, opts.validityDays ?? 10));
  }
  const x509 = new crypto.X509Certificate(cert);
  const hash = crypto.createHash('sha256').update(x509.raw).digest();
  return {
    cert,
    key,
    fingerprint: hash.toString('hex'),
    hash: new Uint8Array(hash),
    notAfter: Date.parse(x509.validTo),
    selfSigned: !(opts.certFile && opts.keyFile),
  };
}

async function selfSigned(host: string, days: number): Promise<{ cert: string; key: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'subsec-relay-cert-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    const san = /^[\d.]+$/.test(host) ? `IP:${host},DNS:localhost` : `DNS:${host},DNS:localhost,IP:127.0.0.1`;
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        String(days),
        '-subj',
        '/CN=subsec-relay',
        '-addext',
        `subjectAltName=${san}`,
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { timeout: 10_000 },
    );
    return { cert: await fs.readFile(certFile, 'utf8'), key: await fs.readFile(keyFile, 'utf8') };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
