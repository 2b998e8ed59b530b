/**
 * Time-limited TURN credentials in the scheme of coturn's REST API (`use-auth-secret` +
 * `static-auth-secret`): username `<expiry unix seconds>:<identity>`, password
 * `base64(HMAC-SHA1(secret, username))`. The TURN server checks them with the shared secret
 * alone, so nothing is stored and no call to the TURN server is needed.
 */
import crypto from 'node:crypto';

/** An ICE server as `RTCPeerConnection` takes it. */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** Options of {@link TurnCredentials}. */
export interface TurnCredentialsOptions {
  /** `turn:`/`turns:` URLs get credentials; `stun:` URLs are passed through without. */
  urls: string[];
  /** coturn's static-auth-secret. */
  secret: string;
  /** Credential lifetime (s). */
  ttlSeconds: number;
}

/** A credential issued for one identity. */
export interface TurnCredential {
  username: string;
  credential: string;
  /** Expiry, seconds since the epoch. */
  expiresAt: number;
}

/** Issues TURN credentials and the ICE server list for clients. */
export class TurnCredentials {
  readonly #options: TurnCredentialsOptions;

  constructor(options: TurnCredentialsOptions) {
    if (options.secret.length === 0) throw new TypeError('turn secret must not be empty');
    this.#options = options;
  }

  /** A credential for `identity` valid for the configured lifetime from `nowMs`. */
  issue(identity: string, nowMs = Date.now()): TurnCredential {
    const expiresAt = Math.floor(nowMs / 1000) + this.#options.ttlSeconds;
    const username = `${expiresAt}:${identity}`;
    return { username, credential: turnPassword(this.#options.secret, username), expiresAt };
  }

  /** ICE servers for `identity`: TURN URLs with a fresh credential, STUN URLs as they are. */
  iceServers(identity: string, nowMs = Date.now()): IceServer[] {
    const turn = this.#options.urls.filter((u) => /^turns?:/i.test(u));
    const stun = this.#options.urls.filter((u) => /^stuns?:/i.test(u));
    const out: IceServer[] = [];
    if (stun.length > 0) out.push({ urls: stun });
    if (turn.length > 0) {
      const { username, credential } = this.issue(identity, nowMs);
      out.push({ urls: turn, username, credential });
    }
    return out;
  }
}

/** The coturn REST API password for a username: base64(HMAC-SHA1(secret, username)). */
export function turnPassword(secret: string, username: string): string {
  return crypto.createHmac('sha1', secret).update(username).digest('base64');
}

/**
 * `Link` header values announcing ICE servers, as WHIP/WHEP (RFC 9725) define them:
 * `<turn:host:3478?transport=udp>; rel="ice-server"; username="…"; credential="…"; credential-type="password"`.
 */
export function iceServerLinks(servers: IceServer[]): string[] {
  const quote = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  const out: string[] = [];
  for (const server of servers) {
    for (const url of server.urls) {
      let link = `<${url}>; rel="ice-server"`;
      if (server.username !== undefined && server.credential !== undefined) {
        link += `; username=${quote(server.username)}; credential=${quote(server.credential)}; credential-type="password"`;
      }
      out.push(link);
    }
  }
  return out;
}
