/**
 * Every application protocol the relay's listeners accept, preferred first: the moq-lite
 * versions (./messages.ts), then IETF moq-transport (./ietf.ts). Relays dial each other with
 * moq-lite only.
 */
import { IETF_ALPNS } from './ietf';
import { ALPNS } from './messages';

/**
 * `moql`: the version is negotiated in a pre-ALPN CLIENT_SETUP (moq-transport-14 here), as for a
 * client that offers no protocol at all.
 */
export const PRE_ALPN_SETUP = 'moql';

/** ALPN / WebTransport protocol / QMux app protocol names a listener accepts, in order of preference. */
export const LISTENER_ALPNS: readonly string[] = [...ALPNS.map((a) => a.alpn), ...IETF_ALPNS.map((a) => a.alpn), PRE_ALPN_SETUP];

/** The first of `offered` this relay accepts ('' when none). */
export function selectAlpn(offered: readonly string[]): string {
  return LISTENER_ALPNS.find((a) => offered.includes(a)) ?? '';
}

/** True when `alpn` selects IETF moq-transport. */
export function isIetfAlpn(alpn: string): boolean {
  return IETF_ALPNS.some((a) => a.alpn === alpn);
}
