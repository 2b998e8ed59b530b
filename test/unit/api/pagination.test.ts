import { describe, expect, it } from 'vitest';
import { paginate } from '../../../src/api/pagination';
import { SubsecError } from '../../../src/core/errors';

describe('cursor pagination', () => {
  const items = ['d', 'a', 'c', 'b', 'e'].map((k) => ({ k }));

  it('walks every item once, sorted, and ends with a null cursor', () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const { page, nextCursor } = paginate(items, (x) => x.k, 2, cursor);
      seen.push(...page.map((x) => x.k));
      if (!nextCursor) break;
      cursor = nextCursor;
    }
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('keeps going after the cursor item disappears', () => {
    const first = paginate(items, (x) => x.k, 2);
    const rest = paginate(
      items.filter((x) => x.k !== 'b'),
      (x) => x.k,
      10,
      first.nextCursor!,
    );
    expect(rest.page.map((x) => x.k)).toEqual(['c', 'd', 'e']);
    expect(rest.nextCursor).toBeNull();
  });

  it('rejects a cursor it did not make', () => {
    expect(() => paginate(items, (x) => x.k, 2, 'not-a-cursor')).toThrowError(SubsecError);
    expect(() => paginate(items, (x) => x.k, 2, Buffer.from('{"x":1}').toString('base64url'))).toThrowError(/cursor/);
  });
});
