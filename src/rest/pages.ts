import { AppError, badInput } from '../core/errors.js';

/**
 * Letta's list pagination: `before`/`after` are ids of rows of the list, `limit` caps the page and `order` sorts it
 * by creation time (then by a unique key). Cursors are relative to the listing order: `after` continues the list
 * and `before` goes back, whichever the direction, so a client that pages with `after=<last id>` until it gets an
 * empty page (as Letta's SDKs do) sees every row once. For ascending order this is also Letta's chronological
 * meaning of before/after. With both, the page is the start of the window between them. A cursor that is not a
 * row of the list is NOT_FOUND, as Letta's generic lists answer.
 *
 * Prisma's cursor pagination compares the cursor row's keys in SQL, at the database's full timestamp precision
 * (microseconds on PostgreSQL; a JavaScript Date would cut them to milliseconds and repeat or skip rows).
 */

export interface PageOptions {
  after?: string | null;
  before?: string | null;
  limit: number;
  order: 'asc' | 'desc';
}

export interface SortKey {
  field: string;
  /** Null values sort after every value in ascending order (and first in descending). */
  nullable?: boolean;
}

/** The part of a Prisma model delegate a page needs. */
interface Delegate {
  findFirst(args: object): Promise<unknown>;
  findMany(args: object): Promise<unknown[]>;
}

export interface PageQuery {
  /** The list's filter; cursors must be rows it matches. */
  where: object;
  /** Sort keys, most significant first; the last one is unique within the list and is what cursors name. */
  keys: SortKey[];
  /** The unique input naming the row a cursor value names; by default `{ <last key>: value }`. */
  cursor?: (value: string) => object;
  /** Names the row type in a NOT_FOUND for an unknown cursor. */
  type: string;
  select?: object;
  include?: object;
}

export const LIMIT_MAX = 1000;

export function orderBy(keys: SortKey[], order: 'asc' | 'desc') {
  return keys.map((key) => (key.nullable ? { [key.field]: { sort: order, nulls: order === 'asc' ? 'last' : 'first' } } : { [key.field]: order }));
}

export async function page<T>(delegate: Delegate, query: PageQuery, options: PageOptions): Promise<T[]> {
  if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > LIMIT_MAX) {
    throw badInput(`limit must be from 1 to ${LIMIT_MAX}`, 'limit');
  }
  const cursorField = query.keys[query.keys.length - 1].field;
  const cursorOf = query.cursor ?? ((value: string) => ({ [cursorField]: value }));
  const sort = orderBy(query.keys, options.order);
  // The cursor key is read back to end a window, so it is always selected.
  const shape = { ...(query.select ? { select: { ...query.select, [cursorField]: true } } : {}), ...(query.include ? { include: query.include } : {}) };

  for (const name of ['after', 'before'] as const) {
    const value = options[name];
    if (value == null) continue;
    const found = await delegate.findFirst({ where: { AND: [query.where, { [cursorField]: value }] }, select: { [cursorField]: true } });
    if (!found) throw new AppError('NOT_FOUND', `No ${query.type} found with id ${value} (the ${name} cursor)`, { field: name });
  }
  const { after, before, limit } = options;

  if (after != null && before != null) {
    // The window between them: `before` must come later than `after` in the listing order (the database sorts the two).
    const pair = (await delegate.findMany({
      where: { AND: [query.where, { [cursorField]: { in: [after, before] } }] },
      orderBy: sort,
      select: { [cursorField]: true },
    })) as Record<string, unknown>[];
    if (pair.length !== 2 || pair[0][cursorField] !== after) throw badInput('`before` must come after `after` in the listing order', 'before');
    const rows = (await delegate.findMany({ where: query.where, cursor: cursorOf(after), skip: 1, take: limit, orderBy: sort, ...shape })) as Record<string, unknown>[];
    const end = rows.findIndex((row) => row[cursorField] === before);
    return (end >= 0 ? rows.slice(0, end) : rows) as T[];
  }
  if (after != null) return (await delegate.findMany({ where: query.where, cursor: cursorOf(after), skip: 1, take: limit, orderBy: sort, ...shape })) as T[];
  // A negative take reads backwards from the cursor; Prisma returns the rows in the listing order.
  if (before != null) return (await delegate.findMany({ where: query.where, cursor: cursorOf(before), skip: 1, take: -limit, orderBy: sort, ...shape })) as T[];
  return (await delegate.findMany({ where: query.where, take: limit, orderBy: sort, ...shape })) as T[];
}

/** Creation time, then id: the order of almost every list. */
export const BY_CREATION: SortKey[] = [{ field: 'createdAt' }, { field: 'id' }];
