import { z } from 'zod';
import type { IdPrefix } from '../../core/ids.js';
import { LIMIT_MAX } from '../pages.js';
import { doc } from '../registry.js';
import { idOf, q } from '../validation.js';

/** Query parameters shared by Letta's list endpoints. */

export type Direction = 'asc' | 'desc';

/** before/after/limit/order (+ Letta's order_by and the deprecated `ascending`) for a list of `prefix` ids. */
export function listParams(prefix: IdPrefix, defaults: { limit: number; order: Direction }) {
  return {
    before: doc(idOf(prefix).optional(), { description: `Return the rows before this ${prefix} id in the listing order.` }),
    after: doc(idOf(prefix).optional(), { description: `Return the rows after this ${prefix} id in the listing order (pass the last id of a page for the next page).` }),
    limit: doc(q.int(1, LIMIT_MAX).default(defaults.limit), { description: `Page size, 1 to ${LIMIT_MAX} (default ${defaults.limit}).` }),
    order: doc(z.enum(['asc', 'desc']).optional(), { description: `By creation time (default ${defaults.order}).` }),
    order_by: doc(z.enum(['created_at']).optional(), { description: 'Only created_at.' }),
    ascending: doc(q.bool().optional(), { description: 'Deprecated alias of order (true = asc); wins when given.', deprecated: true }),
  };
}

export function direction(query: { order?: Direction; ascending?: boolean }, fallback: Direction): Direction {
  if (query.ascending !== undefined) return query.ascending ? 'asc' : 'desc';
  return query.order ?? fallback;
}

export const describe = <T extends z.ZodType>(schema: T, description: string): T => doc(schema, { description });
