import { Prisma } from '../../generated/prisma/client.js';
import type { OrgReader } from './org-reader.js';

/**
 * Passage vectors at their native dimension, by passage id (null: not embedded; missing: not the reader's
 * organization's, or no such passage). Raw SQL because Prisma cannot read pgvector columns; GraphQL's `embedding`
 * field and REST's passage lists both read them here.
 */
export async function passageEmbeddings(reader: OrgReader, ids: readonly string[]): Promise<Map<string, number[] | null>> {
  if (!ids.length) return new Map();
  const rows = await reader.query<{ id: string; embedding: string | null }>(
    (org) => Prisma.sql`SELECT p.id, p.embedding::text AS embedding FROM "Passage" p WHERE p.id = ANY(${[...ids]}::text[]) AND ${org('p')}`,
  );
  return new Map(rows.map((r) => [r.id, r.embedding ? (JSON.parse(r.embedding) as number[]) : null]));
}
