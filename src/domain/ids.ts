import { badInput } from '../core/errors.js';
import { isId, type IdPrefix } from '../core/ids.js';

/** Rejects a malformed id before any lookup, naming the argument. */
export function requireId(prefix: IdPrefix, id: string, field: string): string {
  if (!isId(prefix, id)) throw badInput(`"${id}" is not a valid ${prefix} id (expected ${prefix}-<uuid4>)`, field);
  return id;
}
