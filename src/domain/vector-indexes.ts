import { badInput } from '../core/errors.js';
import type { PrismaClient } from '../generated/prisma/client.js';

/**
 * Per-dimension HNSW indexes over `Passage.embedding`. The column has no fixed dimension (each source keeps its
 * model's native one, never padded), and an HNSW index needs one, so each dimension in use gets a partial
 * expression index: `(embedding::vector(dim))` over the rows `WHERE "embeddingDim" = dim`. A query can use it only
 * by ordering on that same expression with that same predicate, which is what passage-search.ts writes.
 *
 * pgvector's HNSW indexes `vector` up to 2,000 dimensions. Larger dimensions (up to the type's 16,000) get no
 * index and are searched exactly, through the (organizationId, embeddingDim) btree.
 *
 * These indexes live outside the migrations, like any index created at run time: Prisma's diff does not know
 * them, so a future migration diff would propose dropping them; do not accept that part of a generated diff.
 */
export const HNSW_MAX_DIM = 2000;
export const VECTOR_MAX_DIM = 16000;

/** Rejects anything but an integer pgvector accepts; the dimension is interpolated into SQL, never a parameter. */
export function requireVectorDim(dim: number, field = 'dim'): number {
  if (!Number.isInteger(dim) || dim < 1 || dim > VECTOR_MAX_DIM) {
    throw badInput(`A vector dimension must be an integer from 1 to ${VECTOR_MAX_DIM} (got ${dim})`, field);
  }
  return dim;
}

export const vectorIndexName = (dim: number) => `Passage_embedding_hnsw_${dim}`;

/**
 * Creates the HNSW index for one dimension if it is missing; returns false for dimensions HNSW cannot index.
 * Idempotent and safe to call concurrently. The build takes a write lock on "Passage" and reads the rows of
 * that dimension, so call it when a dimension first appears (a source is created), not per query.
 */
export async function ensureVectorIndex(prisma: PrismaClient, dim: number): Promise<boolean> {
  requireVectorDim(dim);
  if (dim > HNSW_MAX_DIM) return false;
  // A catalog read first: CREATE INDEX takes its table lock even when the index already exists.
  const [existing] = await prisma.$queryRaw<unknown[]>`SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ${vectorIndexName(dim)}`;
  if (existing) return true;
  try {
    await prisma.$executeRawUnsafe(
      `CREATE INDEX IF NOT EXISTS "${vectorIndexName(dim)}" ON "Passage" ` +
        `USING hnsw ((embedding::vector(${dim})) vector_cosine_ops) WHERE "embeddingDim" = ${dim}`,
    );
  } catch (error) {
    // Two concurrent builds both pass IF NOT EXISTS; the loser fails on the catalog's unique name.
    if (!isDuplicateObject(error)) throw error;
  }
  return true;
}

/** 42P07 duplicate_table, or 23505 unique_violation on the catalog, as Prisma reports a raw query's database error. */
function isDuplicateObject(error: unknown): boolean {
  const code = (error as { meta?: { driverAdapterError?: { cause?: { originalCode?: string } } } })?.meta?.driverAdapterError?.cause?.originalCode;
  return code === '42P07' || code === '23505';
}
