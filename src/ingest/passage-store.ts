import type { SqlRunner } from '../core/db/sql.js';
import type { Chunk } from '../documents/chunker.js';

/**
 * Writes a file's passages and text pieces into its STAGED passage set, batch by batch, each slice in one short
 * statement that also advances the set's counters (what a resumed run skips). Every insert is idempotent (a re-run never
 * duplicates) and checks the set is still STAGED, so a cancelled run stops at its next statement.
 *
 * Vectors go in pgvector's binary form (one `vector[]` parameter per statement) over `pg` (PostgreSQL, PGlite in its
 * thread): nothing to print here nor to parse in the database. PGlite's own driver sends text, so through it they go
 * as pgvector's text form.
 *
 * On PGlite the database runs in this process: the rows per statement adapt so that each statement takes about
 * TARGET_STATEMENT_MS, and requests keep being answered between them. PostgreSQL takes a whole batch at once.
 */
export interface StoreTarget {
  organizationId: string;
  sourceId: string;
  fileId: string;
  fileName: string;
  setId: string;
  createdById: string | null;
  configJson: string;
  dim: number;
  /** Vectors in pgvector's binary form (a `pg` connection), else as text (PGlite's own driver). */
  binary: boolean;
}

export interface TextPiece {
  seq: number;
  text: string;
  /** Characters of the document up to the end of this piece. */
  endChars: number;
}

/** How far a set's stored rows reach: chunks (by index), text pieces (by seq) and characters, each exclusive. */
export interface StoredReach {
  chunks: number;
  texts: number;
  chars: number;
}

export const TARGET_STATEMENT_MS = 40;
const MIN_ROWS = 4;

export class SetNoLongerStaged extends Error {}

export class PassageStore {
  private rows: number;
  private vectorOid: number | null = null;
  /** Statements written and their milliseconds, for the log. */
  readonly timings = { statements: 0, ms: 0, slowestMs: 0 };

  constructor(
    private readonly runner: SqlRunner,
    private readonly target: StoreTarget,
    private readonly maxRows: number,
  ) {
    this.rows = runner.kind === 'pglite' ? Math.min(maxRows, 16) : maxRows;
  }

  /**
   * Stores `chunks` (indexes ascending, contiguous) with their vectors, and the text pieces that precede them, on
   * `runner` (the store's own by default). With `advance` (every earlier batch is stored), the set's counters move
   * past them in the same statements; without, the caller moves them later (advance()), once the batches before
   * are stored too: a resumed run starts after the counters, so they never pass a batch that is not stored.
   */
  async store(chunks: Chunk[], vectors: ArrayLike<number>[], pieces: TextPiece[], options: { runner?: SqlRunner; advance?: boolean } = {}): Promise<void> {
    const runner = options.runner ?? this.runner;
    const advance = options.advance ?? true;
    let pending = pieces;
    for (let start = 0; start < chunks.length || pending.length; ) {
      const end = Math.min(chunks.length, start + this.rows);
      const began = performance.now();
      const slice = chunks.slice(start, end);
      await this.write(runner, slice, vectors, start, pending, advance);
      pending = [];
      const ms = performance.now() - began;
      this.timings.statements++;
      this.timings.ms += ms;
      this.timings.slowestMs = Math.max(this.timings.slowestMs, ms);
      if (this.runner.kind === 'pglite' && slice.length) this.adapt(slice.length, ms);
      start = end;
      // Between statements, whatever waits for the event loop (requests, heartbeats, signals) runs.
      if (this.runner.kind === 'pglite') await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Moves the set's counters to `reach` (never back); fails with SetNoLongerStaged once the set is not STAGED. */
  async advance(reach: StoredReach): Promise<void> {
    const moved = await this.runner.query(
      `UPDATE "PassageSet" SET "storedChunks" = GREATEST("storedChunks", $2), "storedTexts" = GREATEST("storedTexts", $3),
              "storedChars" = GREATEST("storedChars", $4), "updatedAt" = now()
        WHERE id = $1 AND state = 'STAGED' RETURNING id`,
      [this.target.setId, reach.chunks, reach.texts, reach.chars],
    );
    if (!moved.length) throw new SetNoLongerStaged();
  }

  private adapt(rows: number, ms: number): void {
    const next = Math.round((rows * TARGET_STATEMENT_MS) / Math.max(1, ms));
    // Grow gently, shrink at once.
    this.rows = Math.max(MIN_ROWS, Math.min(this.maxRows, next > this.rows ? Math.min(next, this.rows * 2) : next));
  }

  /**
   * One statement, so atomic without a transaction (and one round trip): the text pieces, the passages and (with
   * `advance`) the set's counters, written only while the set is still STAGED.
   */
  private async write(runner: SqlRunner, chunks: Chunk[], vectors: ArrayLike<number>[], offset: number, pieces: TextPiece[], advance: boolean): Promise<void> {
    const t = this.target;
    const { binary } = t;
    const encoded = binary ? vectorArrayBinary(await this.oid(runner), t.dim, vectors, offset, chunks.length) : chunks.map((_, i) => vectorLiteral(vectors[offset + i]));
    const last = advance ? pieces.at(-1) : undefined;
    const advanced = await runner.query(
      `WITH staged AS (SELECT id FROM "PassageSet" WHERE id = $4 AND state = 'STAGED'),
       pieces AS (
         INSERT INTO "FileContent" ("organizationId", "fileId", "setId", seq, text, "updatedAt")
         SELECT $1, $3, $4, p.seq, p.text, now() FROM unnest($13::int[], $14::text[]) AS p(seq, text) WHERE EXISTS (SELECT 1 FROM staged)
         ON CONFLICT ("setId", seq) DO NOTHING
       ),
       passages AS (
         INSERT INTO "Passage" ("organizationId", "sourceId", "fileId", "setId", "fileName", "chunkIndex", text, metadata, "embeddingConfig", "embeddingDim", embedding, "createdById", "updatedAt")
         SELECT $1, $2, $3, $4, $5, r.idx, r.text, r.meta, $6::jsonb, $7::int, ${binary ? 'r.vec' : 'r.vec::vector'}, $8, now()
           FROM unnest($9::int[], $10::text[], $11::jsonb[], $12::${binary ? 'vector' : 'text'}[]) AS r(idx, text, meta, vec)
          WHERE EXISTS (SELECT 1 FROM staged)
         ON CONFLICT ("setId", "chunkIndex") DO NOTHING
       )
       UPDATE "PassageSet" SET "storedChunks" = GREATEST("storedChunks", $15), "storedTexts" = GREATEST("storedTexts", $16),
              "storedChars" = GREATEST("storedChars", $17), "updatedAt" = now()
        WHERE id = $4 AND state = 'STAGED' RETURNING id`,
      [
        t.organizationId,
        t.sourceId,
        t.fileId,
        t.setId,
        t.fileName,
        t.configJson,
        t.dim,
        t.createdById,
        chunks.map((c) => c.index),
        chunks.map((c) => c.text),
        chunks.map((c) => passageMetadata(t.fileName, c)),
        encoded,
        pieces.map((p) => p.seq),
        pieces.map((p) => p.text),
        advance && chunks.length ? chunks[chunks.length - 1].index + 1 : 0,
        last ? last.seq + 1 : 0,
        last ? last.endChars : 0,
      ],
    );
    if (!advanced.length) throw new SetNoLongerStaged();
  }

  private async oid(tx: SqlRunner): Promise<number> {
    if (this.vectorOid === null) {
      const [row] = await tx.query<{ oid: number }>(`SELECT 'vector'::regtype::oid::int AS oid`);
      this.vectorOid = Number(row.oid);
    }
    return this.vectorOid;
  }
}

/** The metadata every passage carries, as JSON text. */
export function passageMetadata(fileName: string, c: Chunk): string {
  const meta: Record<string, unknown> = { fileName, chunkIndex: c.index, tokenCount: c.tokenCount, startOffset: c.startOffset, endOffset: c.endOffset };
  if (c.page != null) meta.page = c.page;
  if (c.headingPath?.length) meta.headingPath = c.headingPath;
  return JSON.stringify(meta);
}

/** pgvector's text form. */
export function vectorLiteral(v: ArrayLike<number>): string {
  return `[${Array.prototype.join.call(v, ',')}]`;
}

/**
 * A one-dimensional `vector[]` in PostgreSQL's binary array format, each element in pgvector's binary form
 * (int16 dimension, int16 unused, float4 values, all big-endian): what array_recv and vector_recv read.
 */
export function vectorArrayBinary(vectorOid: number, dim: number, vectors: ArrayLike<number>[], offset: number, count: number): Buffer {
  if (count === 0) {
    // An empty array has no dimensions.
    const empty = Buffer.alloc(12);
    empty.writeUInt32BE(vectorOid, 8);
    return empty;
  }
  const element = 4 + dim * 4;
  const buffer = Buffer.allocUnsafe(20 + count * (4 + element));
  buffer.writeInt32BE(1, 0); // dimensions
  buffer.writeInt32BE(0, 4); // no nulls
  buffer.writeUInt32BE(vectorOid, 8);
  buffer.writeInt32BE(count, 12);
  buffer.writeInt32BE(1, 16); // lower bound
  let at = 20;
  for (let i = 0; i < count; i++) {
    const v = vectors[offset + i];
    if (v.length !== dim) throw new Error(`vector ${offset + i} has ${v.length} dimensions, expected ${dim}`);
    buffer.writeInt32BE(element, at);
    buffer.writeInt16BE(dim, at + 4);
    buffer.writeInt16BE(0, at + 6);
    at += 8;
    for (let j = 0; j < dim; j++, at += 4) buffer.writeFloatBE(v[j], at);
  }
  return buffer;
}

/**
 * Deletes RETIRED sets (and, through them, their passages and text pieces) a slice at a time, so no statement
 * holds the database for long. Returns the passages deleted.
 */
export async function purgeRetiredSets(runner: SqlRunner, options: { fileId?: string; rowsPerStatement: number; signal?: AbortSignal }): Promise<number> {
  let deleted = 0;
  for (;;) {
    if (options.signal?.aborted) return deleted;
    const [set] = await runner.query<{ id: string }>(
      `SELECT id FROM "PassageSet" WHERE state = 'RETIRED'${options.fileId ? ' AND "fileId" = $1' : ''} ORDER BY "updatedAt" LIMIT 1`,
      options.fileId ? [options.fileId] : [],
    );
    if (!set) return deleted;
    for (;;) {
      if (options.signal?.aborted) return deleted;
      const rows = await runner.query<{ id: string }>(
        `DELETE FROM "Passage" WHERE id IN (SELECT id FROM "Passage" WHERE "setId" = $1 LIMIT $2) RETURNING id`,
        [set.id, options.rowsPerStatement],
      );
      deleted += rows.length;
      if (runner.kind === 'pglite') await new Promise((resolve) => setImmediate(resolve));
      if (rows.length < options.rowsPerStatement) break;
    }
    await runner.query(`DELETE FROM "PassageSet" WHERE id = $1 AND state = 'RETIRED'`, [set.id]);
  }
}
