import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../src/core/db/index.js';
import type { SqlReader, Statement } from '../src/core/db/reader.js';
import { OrgReader } from '../src/domain/reads/org-reader.js';
import { EF_SEARCH_BASE, searchPassages, TEXT_RANK_CANDIDATES, textQuery, type PassageSearchInput, type SearchTuning, type TextPlan, type VectorPlan } from '../src/domain/passage-search.js';
import { ensureVectorIndex, vectorIndexName } from '../src/domain/vector-indexes.js';
import { createTestApp, type Tenant, type TestApp } from './support/app.js';
import { databaseKinds, testPostgresUrl } from './support/db.js';

/** Deterministic pseudo-random numbers (mulberry32), so a failure reproduces. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const randomVector = (next: () => number, dim: number) => Array.from({ length: dim }, () => next() * 2 - 1);
const unit = (dim: number, i: number, scale = 1) => Array.from({ length: dim }, (_, j) => (j === i ? scale : 0));
const cosine = (a: number[], b: number[]) => {
  const dot = a.reduce((s, x, i) => s + x * b[i], 0);
  return dot / Math.hypot(...a) / Math.hypot(...b);
};

interface Row {
  text: string;
  vector: number[];
}

describe.each(databaseKinds())('passage search on %s', (kind) => {
  let t: TestApp;
  const organizations: string[] = [];
  beforeAll(async () => {
    t = await createTestApp(kind);
    await ensureVectorIndex(t.db.prisma, 8);
    await ensureVectorIndex(t.db.prisma, 16);
  });
  // The PostgreSQL test database is shared and kept between runs: leave no rows behind in the indexed dimensions.
  afterAll(async () => {
    await t.db.prisma.organization.deleteMany({ where: { id: { in: organizations } } });
    await t.close();
  });

  async function tenant(): Promise<Tenant> {
    const tn = await t.tenant();
    organizations.push(tn.organizationId);
    return tn;
  }

  async function source(tn: Tenant, name: string, dim: number) {
    return t.db.prisma.source.create({
      data: { organizationId: tn.organizationId, name, embeddingConfig: { endpointType: 'test', model: `test-${dim}`, dim, chunkSize: 300 } },
    });
  }

  async function file(tn: Tenant, sourceId: string, name: string) {
    return t.db.prisma.file.create({
      data: { organizationId: tn.organizationId, sourceId, fileName: name, originalFileName: name, mediaType: 'text/plain', sizeBytes: 1 },
    });
  }

  /** Inserts passages in one statement, as ingestion does; returns their ids in the order given. */
  async function passages(tn: Tenant, sourceId: string, fileId: string | null, rows: Row[]): Promise<string[]> {
    const dim = rows[0].vector.length;
    const inserted = await t.db.prisma.$queryRaw<{ id: string; text: string }[]>`
      INSERT INTO "Passage" ("organizationId", "sourceId", "fileId", text, "embeddingDim", embedding, "updatedAt")
      SELECT ${tn.organizationId}, ${sourceId}, ${fileId}, u.text, ${dim}, u.vector::vector, now()
        FROM unnest(${rows.map((r) => r.text)}::text[], ${rows.map((r) => JSON.stringify(r.vector))}::text[]) AS u(text, vector)
      RETURNING id, text`;
    const byText = new Map(inserted.map((r) => [r.text, r.id]));
    return rows.map((r) => byText.get(r.text)!);
  }

  /** A reader whose every session has sorting (and scans that would need it) priced out. */
  async function sortAvoidingReader(): Promise<{ sql: SqlReader; close(): Promise<void> }> {
    const settings = ['enable_sort', 'enable_seqscan', 'enable_bitmapscan'];
    if (kind === 'pglite') {
      // One connection: session settings reach every later statement until reset.
      for (const name of settings) await t.db.prisma.$executeRawUnsafe(`SET ${name} = off`);
      return { sql: t.db.sql, close: async () => void (await t.db.prisma.$executeRawUnsafe('RESET ALL')) };
    }
    const url = new URL(testPostgresUrl()); // the database createTestApp('postgres') opened
    url.searchParams.set('options', settings.map((name) => `-c ${name}=off`).join(' '));
    const db = await openPostgres(url.toString(), 1);
    return { sql: db.sql, close: () => db.close() };
  }

  /** Statements sent through the reader, with their values, and the plans of the vector searches. */
  const sent: Statement[] = [];
  const plans: VectorPlan[] = [];
  const textPlans: TextPlan[] = [];
  const recording = (sql: SqlReader): SqlReader => ({ query: (statement) => (sent.push(statement), sql.query(statement)) });
  const search = (tn: Tenant, input: PassageSearchInput, tuning?: SearchTuning, sql = t.db.sql) =>
    searchPassages(new OrgReader(recording(sql), tn.actor.organizationId), input, { onVectorPlan: (plan) => plans.push(plan), onTextPlan: (plan) => textPlans.push(plan), ...tuning });
  const lastPlan = () => plans[plans.length - 1];
  const lastTextPlan = () => textPlans[textPlans.length - 1];
  const ids = (hits: { passageId: string }[]) => hits.map((h) => h.passageId);

  /**
   * A TEXT or HYBRID search both ways TEXT can match: reading the filtered set (these tenants are small) and
   * through the GIN index. Both must give the same hits (or the same first `compare` hits: past
   * TEXT_RANK_CANDIDATES matches, which passages are ranked differs); returns the first.
   */
  async function bothWays(tn: Tenant, input: PassageSearchInput, compare = Infinity) {
    const scanned = await search(tn, input);
    expect(lastTextPlan().strategy).toBe('scan');
    const indexed = await search(tn, input, { textScanMaxRows: 0 });
    expect(lastTextPlan().strategy).toBe('index');
    expect(indexed.slice(0, compare)).toEqual(scanned.slice(0, compare));
    return scanned;
  }

  it('orders nearest neighbours by cosine similarity, honours topK, and keeps dimensions apart', async () => {
    const tn = await tenant();
    const small = await source(tn, 'dim-8', 8);
    const large = await source(tn, 'dim-16', 16);
    const q = unit(8, 0);
    // Cosine similarity to q: 1, 0.894, 0.707, 0, -1 (lengths differ: cosine ignores them).
    const vectors = [unit(8, 0, 5), [1, 0.5, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0], unit(8, 1), unit(8, 0, -1)];
    const expected = await passages(tn, small.id, null, vectors.map((vector, i) => ({ text: `small ${i}`, vector })));
    const other = await passages(tn, large.id, null, [{ text: 'large 0', vector: unit(16, 0) }, { text: 'large 1', vector: unit(16, 3) }]);

    const all = await search(tn, { mode: 'VECTOR', queryVector: q, dim: 8 });
    expect(ids(all)).toEqual(expected);
    // An organization this small is searched exactly, whatever the rest of the database holds.
    expect(lastPlan()).toEqual({ strategy: 'exact', reachable: 5 });
    expect(all.map((h) => h.vectorRank)).toEqual([1, 2, 3, 4, 5]);
    expect(all.map((h) => h.score)).toEqual([1, 2 / Math.sqrt(5), Math.SQRT1_2, 0, -1].map((s) => expect.closeTo(s, 6)));
    expect(ids(await search(tn, { mode: 'VECTOR', queryVector: q, dim: 8, topK: 2 }))).toEqual(expected.slice(0, 2));
    expect(ids(await search(tn, { mode: 'VECTOR', queryVector: unit(16, 3), dim: 16 }))).toEqual([other[1], other[0]]);
  });

  describe('a filtered search over 2,500 passages', () => {
    let tn: Tenant;
    let query: number[];
    const rowsOf = new Map<string, Row[]>();
    const idOf = new Map<Row, string>();
    let target: { id: string };
    let targetFiles: { id: string }[];
    /** Searches reaching at most this many passages are exact here, whatever the default. */
    const EXACT = 1000;

    beforeAll(async () => {
      tn = await tenant();
      const next = random(42);
      query = randomVector(next, 8);
      const bulk = await source(tn, 'bulk', 8);
      target = await source(tn, 'target', 8);
      targetFiles = [await file(tn, target.id, 'a.txt'), await file(tn, target.id, 'b.txt')];
      const make = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ text: `${prefix} ${i}`, vector: randomVector(next, 8) }));
      // The target source holds 0.8% of the organization's rows of this dimension; the organization holds more
      // than EXACT (below), so an organization-wide search goes through the index.
      const groups: [string, string | null, Row[]][] = [
        [bulk.id, null, make('bulk', 2480)],
        [target.id, targetFiles[0].id, make('a', 12)],
        [target.id, targetFiles[1].id, make('b', 8)],
      ];
      for (const [sourceId, fileId, rows] of groups) {
        const made = await passages(tn, sourceId, fileId, rows);
        rows.forEach((r, i) => idOf.set(r, made[i]));
        rowsOf.set(fileId ?? sourceId, rows);
      }
      await t.db.prisma.$executeRawUnsafe('ANALYZE "Passage"');
    });

    /** The true k nearest among `rows`, computed here rather than by the database. */
    const exactTop = (rows: Row[], k: number) =>
      [...rows].sort((a, b) => cosine(query, b.vector) - cosine(query, a.vector)).slice(0, k).map((r) => idOf.get(r)!);

    const targetRows = () => [...rowsOf.get(targetFiles[0].id)!, ...rowsOf.get(targetFiles[1].id)!];

    /** The ef_search the plan should choose for a filter reaching `reachable` passages, from the index's size now. */
    async function expectedEf(reachable: number, limit = 10) {
      const [{ indexed }] = await t.db.sql.query<{ indexed: number }>({ text: 'SELECT reltuples::int AS indexed FROM pg_class WHERE relname = $1', values: [vectorIndexName(8)] });
      return Math.min(1000, Math.max(2 * limit, Math.ceil(EF_SEARCH_BASE / Math.min(1, reachable / indexed))));
    }

    it('chooses per query: a small filtered set is scanned exactly, a large one through HNSW with ef_search from its share', async () => {
      const small = await search(tn, { mode: 'VECTOR', queryVector: query, dim: 8, sourceIds: [target.id] }, { exactScanMaxRows: EXACT });
      expect(lastPlan()).toEqual({ strategy: 'exact', reachable: 20 });
      expect(ids(small)).toEqual(exactTop(targetRows(), 10));

      const efWide = await expectedEf(2500);
      const wide = await search(tn, { mode: 'VECTOR', queryVector: query, dim: 8 }, { exactScanMaxRows: EXACT });
      expect(lastPlan()).toEqual({ strategy: 'hnsw', reachable: 2500, efSearch: efWide, exactRerun: false });
      expect(ids(wide).filter((id) => exactTop([...rowsOf.values()].flat(), 10).includes(id)).length).toBeGreaterThanOrEqual(9);

      // The same small source with the exact scan turned off: a smaller share of the index, a wider candidate list.
      const efNarrow = await expectedEf(20);
      const narrow = await search(tn, { mode: 'VECTOR', queryVector: query, dim: 8, sourceIds: [target.id] }, { exactScanMaxRows: 10 });
      expect(lastPlan()).toEqual({ strategy: 'hnsw', reachable: 20, efSearch: efNarrow, exactRerun: expect.any(Boolean) });
      expect(efNarrow).toBeGreaterThan(efWide);
      expect(ids(narrow)).toHaveLength(10);
    });

    it('chooses per query how TEXT matches: a small filtered set by reading it, a large one through the GIN index', async () => {
      const byText = (text: string) => idOf.get([...rowsOf.values()].flat().find((r) => r.text === text)!)!;
      const inTarget = await search(tn, { mode: 'TEXT', queryText: '7 bulk', sourceIds: [target.id] }, { textScanMaxRows: EXACT });
      expect(lastTextPlan()).toEqual({ strategy: 'scan', reachable: 20 });
      expect(new Set(ids(inTarget))).toEqual(new Set([byText('a 7'), byText('b 7')]));
      const wide = await search(tn, { mode: 'TEXT', queryText: '7' }, { textScanMaxRows: EXACT });
      // Counted only as far as the choice needs.
      expect(lastTextPlan()).toEqual({ strategy: 'index', reachable: EXACT + 1 });
      expect(new Set(ids(wide))).toEqual(new Set([byText('a 7'), byText('b 7'), byText('bulk 7')]));
      // HYBRID chooses the same way, each ranking on its own.
      await search(tn, { mode: 'HYBRID', queryText: '7 bulk', queryVector: query, dim: 8, sourceIds: [target.id] }, { textScanMaxRows: EXACT, exactScanMaxRows: EXACT });
      expect([lastTextPlan(), lastPlan()]).toEqual([{ strategy: 'scan', reachable: 20 }, { strategy: 'exact', reachable: 20 }]);
    });

    it('returns the full topK from one file, and every match when fewer rows match than topK', async () => {
      const inA = await search(tn, { mode: 'VECTOR', queryVector: query, dim: 8, fileIds: [targetFiles[0].id] });
      expect(ids(inA)).toHaveLength(10);
      expect(new Set(ids(inA))).toEqual(new Set(exactTop(rowsOf.get(targetFiles[0].id)!, 10)));
      const inB = await search(tn, { mode: 'VECTOR', queryVector: query, dim: 8, fileIds: [targetFiles[1].id], topK: 20 });
      expect(ids(inB)).toEqual(exactTop(rowsOf.get(targetFiles[1].id)!, 8));
      expect(lastPlan()).toEqual({ strategy: 'exact', reachable: 8 });
      // Through the index, a result short of topK is redone exactly (in the same statement): the index scan could
      // have given up early.
      const before = sent.length;
      const viaIndex = await search(tn, { mode: 'VECTOR', queryVector: query, dim: 8, fileIds: [targetFiles[1].id], topK: 20 }, { exactScanMaxRows: 0 });
      expect(ids(viaIndex)).toEqual(ids(inB));
      expect(lastPlan()).toMatchObject({ strategy: 'hnsw', exactRerun: true });
      expect(sent.length).toBe(before + 1);
      const both = await search(tn, { mode: 'VECTOR', queryVector: query, dim: 8, sourceIds: [target.id], fileIds: [targetFiles[1].id], topK: 5 });
      expect(ids(both)).toEqual(exactTop(rowsOf.get(targetFiles[1].id)!, 5));
    });

    /** The plan of the last statement sent, with its own values. */
    async function planOfLast(sql: SqlReader) {
      const { text, values } = sent[sent.length - 1];
      const plan = await sql.query<{ 'QUERY PLAN': string }>({ text: `EXPLAIN ${text}`, values });
      return plan.map((r) => r['QUERY PLAN']).join('\n');
    }

    it('uses the partial HNSW index for an organization-wide search, in one statement', async () => {
      const before = sent.length;
      const hits = await search(tn, { mode: 'VECTOR', queryVector: query, dim: 8, topK: 10 }, { exactScanMaxRows: EXACT });
      expect(sent.length).toBe(before + 1);
      expect(ids(hits)).toHaveLength(10);
      expect(await planOfLast(t.db.sql)).toContain(`Index Scan using "${vectorIndexName(8)}"`);
    });

    /**
     * A larger source behind a selective filter walks the HNSW index and filters afterwards. Tuning and a reader
     * that may not sort force that plan here: the iterative scan must still fill topK without the exact rerun
     * (pgvector's plain index scan returns 0–1 rows of 10 here), and its settings end with the statement.
     */
    it('fills topK through the HNSW index past a selective filter (iterative scan), leaving no setting behind', async () => {
      const reader = await sortAvoidingReader();
      try {
        const hits = await search(tn, { mode: 'VECTOR', queryVector: query, dim: 8, sourceIds: [target.id] }, { exactScanMaxRows: 0 }, reader.sql);
        expect(lastPlan()).toMatchObject({ strategy: 'hnsw', exactRerun: false });
        expect(hits).toHaveLength(10);
        expect(ids(hits).filter((id) => exactTop(targetRows(), 10).includes(id)).length).toBeGreaterThanOrEqual(9);
        expect(await planOfLast(reader.sql)).toContain(`Index Scan using "${vectorIndexName(8)}"`);
        const [settings] = await reader.sql.query<{ ef: string; iterative: string }>({
          text: "SELECT current_setting('hnsw.ef_search') AS ef, current_setting('hnsw.iterative_scan') AS iterative",
          values: [],
        });
        expect(settings).toEqual({ ef: '40', iterative: 'off' });
      } finally {
        await reader.close();
      }
    });
  });

  it('finds keyword matches by full text, best ranked first, with web search syntax', async () => {
    const tn = await tenant();
    const s = await source(tn, 'text', 8);
    const [quick, foxes, dog, den] = await passages(tn, s.id, null, [
      { text: 'The quick brown fox jumps over the lazy dog', vector: unit(8, 0) },
      { text: 'Foxes: a fox hunts, a fox sleeps, a fox dens', vector: unit(8, 1) },
      { text: 'A lazy dog sleeps all day', vector: unit(8, 2) },
      { text: 'Rabbits dig their den underground', vector: unit(8, 3) },
    ]);
    const fox = await bothWays(tn, { mode: 'TEXT', queryText: 'fox' });
    expect(ids(fox)).toEqual([foxes, quick]);
    expect(fox[0].score).toBeGreaterThan(fox[1].score);
    expect(fox.map((h) => h.textRank)).toEqual([1, 2]);
    expect(ids(await bothWays(tn, { mode: 'TEXT', queryText: '"brown fox"' }))).toEqual([quick]);
    expect(ids(await bothWays(tn, { mode: 'TEXT', queryText: 'sleeping -fox' }))).toEqual([dog]);
    expect(new Set(ids(await bothWays(tn, { mode: 'TEXT', queryText: 'dens or dig' })))).toEqual(new Set([den, foxes]));
    expect(await bothWays(tn, { mode: 'TEXT', queryText: 'the and of' })).toEqual([]);
    expect(await bothWays(tn, { mode: 'TEXT', queryText: '-fox' })).toEqual([]);
  });

  it('matches any of the words, passages with more of them first; phrases and exclusions still hold', async () => {
    const tn = await tenant();
    const s = await source(tn, 'rivers', 8);
    const [builders, both, fishers] = await passages(tn, s.id, null, [
      { text: 'Beavers build dams, and beavers fell trees; beavers everywhere', vector: unit(8, 0) },
      { text: 'Otters and beavers share the river', vector: unit(8, 1) },
      { text: 'Otters eat fish from the river', vector: unit(8, 2) },
      { text: 'Cats sleep indoors', vector: unit(8, 3) },
    ]);
    const either = await bothWays(tn, { mode: 'TEXT', queryText: 'beavers otters' });
    expect(ids(either)[0]).toBe(both);
    expect(new Set(ids(either))).toEqual(new Set([builders, both, fishers]));
    expect(either[0].score).toBeGreaterThan(either[1].score);
    expect(new Set(ids(await bothWays(tn, { mode: 'TEXT', queryText: 'beavers or otters' })))).toEqual(new Set(ids(either)));
    expect(new Set(ids(await bothWays(tn, { mode: 'TEXT', queryText: 'beavers otters -river' })))).toEqual(new Set([builders]));
    expect(ids(await bothWays(tn, { mode: 'TEXT', queryText: '"share the river" cats -indoors' }))).toEqual([both]);
    expect(new Set(ids(await bothWays(tn, { mode: 'TEXT', queryText: '"beavers build" fish' })))).toEqual(new Set([builders, fishers]));
    expect(textQuery('beavers -"river otters" "dam building" OR -x --y otters')).toEqual({ words: 'beavers otters', phrases: '"dam building"', excluded: '"river otters" or x or y' });
  });

  it('ranks the passages with every word first when more passages match than it ranks', async () => {
    const tn = await tenant();
    const s = await source(tn, 'common', 8);
    await passages(tn, s.id, null, Array.from({ length: TEXT_RANK_CANDIDATES + 10 }, (_, i) => ({ text: `common word ${i}`, vector: unit(8, i % 8) })));
    const [rare] = await passages(tn, s.id, null, [{ text: 'common and rare words', vector: unit(8, 0) }]);
    const hits = await bothWays(tn, { mode: 'TEXT', queryText: 'common rare', topK: 3 }, 1);
    expect(ids(hits)[0]).toBe(rare);
    expect(hits).toHaveLength(3);
  });

  it('fuses the vector and text rankings by reciprocal rank, each cut to 2 × topK candidates', async () => {
    const tn = await tenant();
    const s = await source(tn, 'hybrid', 8);
    const [nearOnly, wordOnly, both] = await passages(tn, s.id, null, [
      { text: 'unrelated words entirely', vector: unit(8, 0) },
      { text: 'pgvector pgvector pgvector indexes', vector: unit(8, 0, -1) },
      { text: 'pgvector in passing', vector: [1, 1, 0, 0, 0, 0, 0, 0] },
    ]);
    // Twelve passages nearer than wordOnly push it out of the 6 vector candidates of topK 3.
    await passages(tn, s.id, null, Array.from({ length: 12 }, (_, i) => ({ text: `filler ${i}`, vector: [0.1 + i / 100, 0, 1, 0, 0, 0, 0, 0] })));
    const hits = await bothWays(tn, { mode: 'HYBRID', queryVector: unit(8, 0), dim: 8, queryText: 'pgvector', topK: 3 });
    expect(hits).toHaveLength(3);
    expect(hits[0]).toEqual({ passageId: both, vectorRank: 2, textRank: 2, score: expect.closeTo(2 / 62, 9) });
    expect(hits.slice(1)).toEqual(
      expect.arrayContaining([
        { passageId: nearOnly, vectorRank: 1, score: expect.closeTo(1 / 61, 9) },
        { passageId: wordOnly, textRank: 1, score: expect.closeTo(1 / 61, 9) },
      ]),
    );
  });

  it('never returns another organization’s passages, even the nearest and best matching', async () => {
    const mine = await tenant();
    const theirs = await tenant();
    const myPassages = await passages(mine, (await source(mine, 'mine', 8)).id, null, [{ text: 'shared secret words', vector: unit(8, 1) }]);
    const theirSource = await source(theirs, 'theirs', 8);
    await passages(theirs, theirSource.id, null, [{ text: 'secret secret secret', vector: unit(8, 0) }]);
    const q = { queryVector: unit(8, 0), dim: 8, queryText: 'secret' };
    for (const tuning of [{}, { textScanMaxRows: 0, exactScanMaxRows: 0 }]) {
      for (const mode of ['VECTOR', 'TEXT', 'HYBRID'] as const) {
        expect(ids(await search(mine, { ...q, mode }, tuning))).toEqual(myPassages);
        expect(await search(mine, { ...q, mode, sourceIds: [theirSource.id] }, tuning)).toEqual([]);
      }
    }
  });

  it('stores each passage\'s vector and tsvector in its row (STORAGE MAIN), which the exact scan and the text scan read', async () => {
    const columns = await t.db.sql.query<{ attname: string; attstorage: string }>({
      text: `SELECT attname, attstorage FROM pg_attribute WHERE attrelid = '"Passage"'::regclass AND attname IN ('embedding', 'fts', 'text') ORDER BY attname`,
      values: [],
    });
    expect(columns).toEqual([
      { attname: 'embedding', attstorage: 'm' },
      { attname: 'fts', attstorage: 'm' },
      { attname: 'text', attstorage: 'x' },
    ]);
  });

  it('rejects bad input as BAD_USER_INPUT', async () => {
    const tn = await tenant();
    const bad = (input: PassageSearchInput) => expect(search(tn, input)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await bad({ mode: 'VECTOR', queryVector: unit(16, 0), dim: 8 });
    await bad({ mode: 'VECTOR', queryVector: unit(8, 0) });
    await bad({ mode: 'VECTOR', queryVector: [Number.NaN, 0, 0, 0, 0, 0, 0, 0], dim: 8 });
    await bad({ mode: 'VECTOR', queryVector: unit(8, 0, 0), dim: 8 });
    await bad({ mode: 'VECTOR', queryVector: [1.5], dim: 1.5 });
    await bad({ mode: 'HYBRID', queryVector: unit(8, 0), dim: 8 });
    await bad({ mode: 'TEXT', queryText: '   ' });
    await bad({ mode: 'TEXT', queryText: 'x', topK: 0 });
    await bad({ mode: 'TEXT', queryText: 'x', topK: 101 });
    await bad({ mode: 'TEXT', queryText: 'x', sourceIds: ['not-an-id'] });
    expect(await search(tn, { mode: 'TEXT', queryText: 'x', sourceIds: [] })).toEqual([]);
  });

  it('creates one index per dimension idempotently, even concurrently, and searches unindexable dimensions exactly', async () => {
    await Promise.all([ensureVectorIndex(t.db.prisma, 8), ensureVectorIndex(t.db.prisma, 8), ensureVectorIndex(t.db.prisma, 24)]);
    expect(await ensureVectorIndex(t.db.prisma, 24)).toBe(true);
    const indexes = await t.db.prisma.$queryRaw<{ indexname: string; indexdef: string }[]>`
      SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'Passage' AND indexdef LIKE '%hnsw%' ORDER BY indexname`;
    expect(indexes.filter((i) => i.indexname === vectorIndexName(8))).toHaveLength(1);
    expect(indexes.find((i) => i.indexname === vectorIndexName(24))?.indexdef).toMatch(/USING hnsw \(\(\(?embedding\)?::vector\(24\)\) vector_cosine_ops\) WHERE \("embeddingDim" = 24\)/);
    await t.db.prisma.$executeRawUnsafe(`DROP INDEX "${vectorIndexName(24)}"`);

    expect(await ensureVectorIndex(t.db.prisma, 2001)).toBe(false);
    await expect(ensureVectorIndex(t.db.prisma, 8.5)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    const tn = await tenant();
    const s = await source(tn, 'wide', 2001);
    const [far, near] = await passages(tn, s.id, null, [{ text: 'far', vector: unit(2001, 2000, -1) }, { text: 'near', vector: unit(2001, 2000) }]);
    expect(ids(await search(tn, { mode: 'VECTOR', queryVector: unit(2001, 2000), dim: 2001 }))).toEqual([near, far]);
  });
});
