/** Counters a relay keeps for metrics and benchmarks (plain numbers; exporters read them). */
export class RelayStats {
  /** Sessions currently open. */
  sessions = 0;
  /** Sessions accepted since start. */
  sessionsTotal = 0;
  /** Sessions refused at set-up (bad token, no common version). */
  sessionsRefused = 0;
  /** Downstream subscriptions currently served. */
  subscriptions = 0;
  /** Upstream subscriptions currently open (to publishers or upstream relays). */
  upstreamSubscriptions = 0;
  /** Groups delivered downstream (streams opened). */
  groupsOut = 0;
  /** Groups dropped downstream because a newer one superseded them under congestion. */
  groupsDropped = 0;
  /** Frames delivered downstream. */
  framesOut = 0;
  /** Payload bytes delivered downstream. */
  bytesOut = 0;
  /** Frames received from publishers and upstream relays. */
  framesIn = 0;
  /** Group streams refused because a frame exceeded the frame limit. */
  framesRejected = 0;
  /** Sessions closed for a protocol violation. */
  protocolViolations = 0;
  /** Sessions currently open, by transport ('websocket', 'webtransport-h3', 'webtransport-h2', 'upstream-h3', 'upstream-websocket'). */
  readonly sessionsByTransport: Record<string, number> = {};
  /** Sessions accepted since start, by transport. */
  readonly sessionsTotalByTransport: Record<string, number> = {};
  /** Sessions currently open, by negotiated version ('moq-lite-05', …). */
  readonly sessionsByVersion: Record<string, number> = {};
  /** Sessions accepted since start, by negotiated version. */
  readonly sessionsTotalByVersion: Record<string, number> = {};
}
