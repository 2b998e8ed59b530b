/**
 * @fails-components/webtransport probes for its optional HTTP/3 module on import and prints two
 * stack traces when it is absent — always the case on machines that cannot build it (see
 * docs/moq.md). This filter drops exactly those messages (the relay logs one line of its own)
 * and passes everything else through unchanged.
 */
const PROBE_NOISE = /http3-quiche|http3 loader/;

let installed = false;

/** Installs the console filter once per process. */
export function silenceHttp3Probe(): void {
  if (installed) return;
  installed = true;
  for (const method of ['log', 'error'] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      if (args.some((a) => PROBE_NOISE.test(String(a)))) return;
      original(...args);
    };
  }
}
