/** Reading a node's Prometheus exposition in tests. */

/** The node's `/metrics` text. */
export async function metricsText(nodeUrl: string): Promise<string> {
  return (await fetch(`${nodeUrl}/metrics`)).text();
}

/** Sum of the samples of `name` (exactly that series name) whose labels include `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}
