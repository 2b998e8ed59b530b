/** Cursor pagination over lists sorted by a string key: the cursor is the last key seen, opaque to clients. */
import { BadRequestError } from '../core/errors';

/** One page of `items` after `cursor`, and the cursor of the next page (null on the last). */
export function paginate<T>(items: T[], keyOf: (item: T) => string, limit: number, cursor?: string): { page: T[]; nextCursor: string | null } {
  const sorted = [...items].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  let after: string | undefined;
  if (cursor !== undefined) {
    try {
      const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
      if (typeof decoded !== 'object' || decoded === null || typeof (decoded as { k?: unknown }).k !== 'string') throw new Error('shape');
      after = (decoded as { k: string }).k;
    } catch {
      throw new BadRequestError('query cursor: not a cursor this API returned');
    }
  }
  const start = after === undefined ? 0 : sorted.findIndex((i) => keyOf(i) > after!);
  const rest = start < 0 ? [] : sorted.slice(start);
  const page = rest.slice(0, limit);
  const nextCursor = rest.length > limit ? Buffer.from(JSON.stringify({ k: keyOf(page[page.length - 1]!) })).toString('base64url') : null;
  return { page, nextCursor };
}
