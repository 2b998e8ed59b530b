/** The configuration reference (docs/configuration.md) is generated from the schema and must be current and complete. */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema';
import { CONFIGURATION_DOC, collectConfigComments, renderConfigReference, scanSource, withReference } from '../../src/cli/configReference';

const reference = renderConfigReference();
const rows = reference.split('\n').filter((l) => l.startsWith('| `'));

describe('configuration reference', () => {
  it('docs/configuration.md carries the current reference (regenerate: ./bin/subsec.mjs config reference --write)', () => {
    const doc = fs.readFileSync(CONFIGURATION_DOC, 'utf8');
    expect(withReference(doc, reference)).toBe(doc);
  });

  it('has a section for every top-level key of the schema', () => {
    const sections = [...reference.matchAll(/^### `([^`]+)`$/gm)].map((m) => m[1]);
    expect(sections).toEqual(Object.keys(configSchema.shape));
  });

  it('describes every key, including those of sections defined outside schema.ts', () => {
    const undocumented = rows.filter((r) => {
      const description = r.split(' | ')[3]!.trim();
      return description === '' || /^(≥|≤|length|items)/.test(description);
    });
    expect(undocumented.map((r) => r.split(' | ')[0])).toEqual([]);
    const comments = collectConfigComments();
    expect(comments.byPath.get('redis.keyPrefix')).toMatch(/Prefix of every key/);
    expect(comments.byPath.get('cascade.pipe.enableSrtp')).toMatch(/SRTP/);
    expect(comments.byPath.get('moq.relay.host')).toMatch(/relay's listeners/);
    expect(comments.byPath.get('qoe.alerts.figure')).toMatch(/Figure watched/);
    expect(comments.byPath.get('whep.maxSessions')).toMatch(/Sessions this node holds/);
    expect(comments.sectionFiles.get('redis')).toBe('src/redis/redisConfig.ts');
    expect(comments.sectionFiles.get('bans')).toBe('src/moderation/moderationConfig.ts');
  });

  it('scans keys, shorthand keys, helper consts and imports of a source file', () => {
    const scan = scanSource(
      [
        "import { otherSchema as other } from './other';",
        'const helper = z.strictObject({',
        '  /** A port. */',
        '  port,',
        '});',
        'export const root = z.strictObject({',
        '  /** Mounted from elsewhere. */',
        '  a: other.prefault({}),',
        '  list: z',
        '    .array(helper)',
        '    .default([]),',
        '});',
      ].join('\n'),
    );
    expect(scan.comments).toEqual(
      new Map([
        ['helper.port', 'A port.'],
        ['root.a', 'Mounted from elsewhere.'],
      ]),
    );
    expect(scan.refs).toEqual([
      { path: 'helper.port', ident: 'port' },
      { path: 'root.a', ident: 'other' },
      { path: 'root.list', ident: 'helper' },
    ]);
    expect(scan.imports.get('other')).toBe('./other');
  });
});
