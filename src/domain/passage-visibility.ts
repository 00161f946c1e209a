import { Prisma } from '../generated/prisma/client.js';

/**
 * Which passages (and text pieces) of a file anyone may see: those of its LIVE passage set (see PassageSet in
 * schema.prisma). A file being processed writes a STAGED set that no read sees until the file completes and the set
 * becomes LIVE in one small transaction; a failed or cancelled run leaves a RETIRED set that is deleted later.
 * A passage written outside file processing has no set and is always visible. Every read of passages or file text
 * applies one of these; the processing pipeline alone reads staged rows.
 */
export const LIVE_PASSAGES = { OR: [{ setId: null }, { set: { state: 'LIVE' } }] } satisfies Prisma.PassageWhereInput;
export const LIVE_CONTENT = { set: { state: 'LIVE' } } as const satisfies Prisma.FileContentWhereInput;

/** The same condition in raw SQL, for a passage table aliased (or named) `alias`. */
export function livePassageSql(alias?: string): Prisma.Sql {
  const column = Prisma.raw(alias ? `${alias}."setId"` : `"setId"`);
  return Prisma.sql`(${column} IS NULL OR EXISTS (SELECT 1 FROM "PassageSet" live WHERE live.id = ${column} AND live.state = 'LIVE'))`;
}
