/**
 * The relay's QUIC/WebTransport certificate over time: an operator's PEM files as given, or a
 * self-signed ECDSA P-256 certificate valid ≤ 14 days that is replaced `rotateBeforeMs` before it
 * expires. Listeners read `current` for each new connection, so sessions started under the old
 * certificate keep running while new ones get the new one (and clients pin its published hash).
 */
import type { Logger } from '../../src/core/logger';
import { loadCertificate, type RelayCertificate } from './certificate';

/** Options of {@link CertificateStore}. */
export interface CertificateStoreOptions {
  host: string;
  certFile?: string;
  keyFile?: string;
  /** Validity of a self-generated certificate (days, ≤ 14 for `serverCertificateHashes`). */
  validityDays: number;
  /** Replace a self-generated certificate this long before it expires (ms). */
  rotateBeforeMs: number;
  /** How often expiry is checked (ms; default: an hour, or a quarter of `rotateBeforeMs` when shorter). */
  checkEveryMs?: number;
  log: Logger;
}

const CHECK_EVERY_MS = 60 * 60 * 1000;

/** Holds the current certificate and rotates self-generated ones. */
export class CertificateStore {
  readonly #o: CertificateStoreOptions;
  #current: RelayCertificate | undefined;
  #timer: NodeJS.Timeout | undefined;
  #rotations = 0;
  #rotating: Promise<RelayCertificate> | undefined;

  constructor(options: CertificateStoreOptions) {
    this.#o = options;
  }

  /** The certificate new connections get (after start). */
  get current(): RelayCertificate {
    if (!this.#current) throw new Error('certificate store not started');
    return this.#current;
  }

  /** How many times the certificate was replaced. */
  get rotations(): number {
    return this.#rotations;
  }

  /** Loads or creates the first certificate and starts the rotation check. */
  async start(): Promise<RelayCertificate> {
    this.#current = await this.#load();
    this.#timer = setInterval(() => this.#check(), this.#o.checkEveryMs ?? Math.min(CHECK_EVERY_MS, Math.max(1000, this.#o.rotateBeforeMs / 4)));
    this.#timer.unref();
    return this.#current;
  }

  /** Replaces a self-generated certificate now (an operator's files are re-read). Resolves with the new one. */
  rotate(): Promise<RelayCertificate> {
    this.#rotating ??= this.#load().then(
      (cert) => {
        this.#current = cert;
        this.#rotations++;
        this.#rotating = undefined;
        this.#o.log.info('certificate rotated', { sha256: cert.fingerprint, notAfter: new Date(cert.notAfter).toISOString() });
        return cert;
      },
      (err: unknown) => {
        this.#rotating = undefined;
        throw err;
      },
    );
    return this.#rotating;
  }

  /** Stops the rotation check. */
  close(): void {
    clearInterval(this.#timer);
  }

  #check(): void {
    const cert = this.#current;
    if (!cert || !cert.selfSigned) return;
    if (cert.notAfter - Date.now() > this.#o.rotateBeforeMs) return;
    this.rotate().catch((err: unknown) => this.#o.log.warn('certificate rotation failed', { error: err }));
  }

  #load(): Promise<RelayCertificate> {
    return loadCertificate({ certFile: this.#o.certFile, keyFile: this.#o.keyFile, host: this.#o.host, validityDays: this.#o.validityDays });
  }
}
