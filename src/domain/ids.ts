import { badInput, notFound } from '../core/errors.js';
import { isId, type IdPrefix } from '../core/ids.js';

/** Rejects a malformed id before any lookup, naming the argument. */
export function requireId(prefix: IdPrefix, id: string, field: string): string {
  if (!isId(prefix, id)) throw badInput(`"${id}" is not a valid ${prefix} id (expected ${prefix}-<uuid4>)`, field);
  return id;
}

/** The row a lookup found, or NOT_FOUND naming the type and id (another organization's row is never found). */
export async function orNotFound<T>(row: Promise<T | null>, type: string, id: string): Promise<T> {
  const found = await row;
  if (!found) throw notFound(type, id);
  return found;
}
