/** Reading a node's Prometheus exposition in tests. */

/** The node's `/metrics` text. */
export async function metricsText(nodeUrl: string): Promise<string> {
  return (await fetch(`${nodeUrl}/metrics`)).text();
}

/** Whether the exposition declares the metric family that `name` (a series name) belongs to. */
function declares(text: string, name: string): boolean {
  const family = name.replace(/_(count|sum|bucket)$/, '');
  return text.split('\n').some((l) => l.startsWith(`# TYPE ${name} `) || l.startsWith(`# TYPE ${family} `));
}

function matching(text: string, name: string, labels: Record<string, string>): string[] {
  return text
    .split('\n')
    .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
}

/**
 * Sum of the samples of `name` (exactly that series name) whose labels include `labels`. Throws
 * when no sample matches, so a renamed metric or label fails the test instead of reading 0; use
 * {@link metricSumOrZero} where "nothing counted yet" is a valid answer.
 */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  const lines = matching(text, name, labels);
  if (lines.length === 0) {
    throw new Error(`no sample of ${name}${JSON.stringify(labels)} in the exposition${declares(text, name) ? '' : ' (the metric is not declared at all)'}`);
  }
  return lines.reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

/**
 * Like {@link metricSum}, but 0 when the family is declared and no labelled sample has been
 * counted yet (a labelled counter has no sample before its first increment). Still throws when
 * the metric itself is missing from the exposition (renamed, removed).
 */
export function metricSumOrZero(text: string, name: string, labels: Record<string, string> = {}): number {
  if (!declares(text, name)) throw new Error(`metric ${name} is not declared in the exposition`);
  return matching(text, name, labels).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}
