import { badInput } from '../core/errors.js';

/**
 * The one rule for names people give things (sources, agents, tools, templates, API keys, files…): a name is
 * shown in lists, logs and agents' prompts, so it must read as what it is. Refused everywhere:
 * - control characters (C0, DEL, C1; NUL also breaks PostgreSQL text),
 * - bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which make a name display
 *   as something else ("Trojan Source"),
 * - lone UTF-16 surrogates, which are no character at all and cannot be stored as UTF-8,
 * - names with nothing visible: blank, or only spaces and invisible characters (zero-width spaces and joiners,
 *   word joiners, BOMs, Hangul fillers…).
 * Each caller adds its own length and shape (a tool name is an identifier, a file name a relative path).
 */

/** Characters no name may hold (global, for stripping them out of names sent as part of an upload). */
export const FORBIDDEN_IN_NAMES = /[\p{Cc}\u202A-\u202E\u2066-\u2069]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/gu;
/** Characters that show nothing: whitespace, format characters (zero-width, joiners, marks, BOM), Hangul fillers, the blank braille pattern. */
const INVISIBLE = /[\p{White_Space}\p{Cf}\u115F\u1160\u3164\uFFA0\u2800]/gu;

/** Why `name` is not acceptable as a name, or null when it is. */
export function nameProblem(name: string): string | null {
  FORBIDDEN_IN_NAMES.lastIndex = 0;
  const forbidden = FORBIDDEN_IN_NAMES.exec(name);
  if (forbidden) {
    const code = forbidden[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    if (/[\uD800-\uDFFF]/.test(forbidden[0])) return `must not contain a lone surrogate (U+${code})`;
    if (/\p{Cc}/u.test(forbidden[0])) return `must not contain control characters (U+${code})`;
    return `must not contain bidirectional control characters (U+${code})`;
  }
  if (!name.replace(INVISIBLE, '')) return 'must contain a visible character';
  return null;
}

/**
 * A name checked by the shared rule and trimmed; `maxLength` counts characters (code points). BAD_USER_INPUT
 * naming `field` otherwise.
 */
export function checkName(name: string, options: { field?: string; maxLength: number }): string {
  const field = options.field ?? 'name';
  const problem = nameProblem(name);
  if (problem) throw badInput(`${field} ${problem}`, field);
  const trimmed = name.trim();
  const length = [...trimmed].length;
  if (length > options.maxLength) throw badInput(`${field} must be 1 to ${options.maxLength} characters`, field);
  return trimmed;
}
