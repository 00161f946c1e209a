/**
 * The embedded database in its own thread (src/core/db/pglite-thread.ts): the server's event loop stays free while
 * PGlite runs a long statement, transactions keep the database to themselves, and the folder survives a clean
 * close, a restart, and a thread stopped mid-statement. Other tests open PGlite in their own thread (faster);
 * process.test.ts runs `npm start`, which uses this thread.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openPGliteDir, PGliteStoppedError, type Database } from '../src/core/db/index.js';
import { CHECKPOINT_AFTER_BYTES, keepWalShort } from '../src/core/db/pglite-thread.js';
import { servePGlite, withoutReadyForQuery } from '../src/core/db/pglite-wire.js';
import { createTestApp } from './support/app.js';
import { openTestDatabase } from './support/db.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'quarry-pglite-thread-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

let folders = 0;
const newFolder = () => path.join(root, `data-${folders++}`, 'pglite');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with the order in which /healthz and a long statement (issued first) finished. */
async function healthzDuringStatement(db: Database, statement: string): Promise<{ order: string[]; statement: Promise<unknown> }> {
  const app = await createTestApp('pglite', {}, {}, { database: db, workers: false });
  const { url } = await app.app.listen(0);
  const order: string[] = [];
  const running = db.sql.query({ text: statement, values: [] }).then(
    () => order.push('statement'),
    (error: Error) => order.push(`statement failed: ${error.message}`),
  );
  for (let i = 0; i < 3; i++) {
    const response = await fetch(`${url}/healthz`);
    expect(response.status).toBe(200);
  }
  order.push('healthz x3');
  await app.app.stop();
  return { order, statement: running };
}

// Each test opens a data folder two or three times, a thread and PGlite each time: about a second on an idle
// machine, many more on a loaded one, hence the room.
describe('PGlite in its own thread', { timeout: 120_000 }, () => {
  it('answers /healthz while the database thread runs a long statement; close stops a statement past the deadline; the folder reopens', async () => {
    const dir = newFolder();
    const db = await openPGliteDir(dir, { thread: 'worker' });
    await db.prisma.$executeRawUnsafe('CREATE TABLE kept (n int)');
    await db.prisma.$executeRawUnsafe('INSERT INTO kept VALUES (1)');

    // The statement would run for a minute: everything below happens while it is in flight.
    const { order, statement } = await healthzDuringStatement(db, 'SELECT pg_sleep(60)');
    expect(order).toEqual(['healthz x3']);

    const closed = await db.close({ timeoutMs: 200 }).catch((error: unknown) => error);
    expect(closed).toBeInstanceOf(PGliteStoppedError);
    await statement;
    expect(order[1]).toMatch(/^statement failed/);

    // Stopped mid-statement is a crash as far as the folder goes: PostgreSQL recovers it, committed rows intact.
    const reopened = await openPGliteDir(dir, { thread: 'worker' });
    try {
      expect(await reopened.sql.query({ text: 'SELECT n FROM kept', values: [] })).toEqual([{ n: 1 }]);
    } finally {
      await reopened.close();
    }
  });

  it('closes cleanly after the running statement; a restart on the same folder finds the data; transactions keep one connection', async () => {
    const dir = newFolder();
    const db = await openPGliteDir(dir, { thread: 'worker' });
    const org = await db.prisma.organization.create({ data: { name: 'kept across restarts' } });
    const order: string[] = [];
    const running = db.sql.query({ text: 'SELECT pg_sleep(0.5)', values: [] }).then(() => order.push('statement'));
    await sleep(50);
    await db.close().then(() => order.push('closed'));
    await running;
    expect(order).toEqual(['statement', 'closed']);

    const db2 = await openPGliteDir(dir, { thread: 'worker' });
    try {
      expect(await db2.prisma.organization.findUnique({ where: { id: org.id } })).toMatchObject({ name: 'kept across restarts' });

      // An interactive transaction has the database to itself: a query from outside waits for its end.
      const before = await db2.prisma.organization.count();
      let outside: Promise<number> | undefined;
      let outsideDone = false;
      await db2.prisma.$transaction(async (tx) => {
        await tx.organization.create({ data: { name: 'in transaction' } });
        outside = db2.prisma.organization.count().finally(() => (outsideDone = true));
        await sleep(100);
        expect(outsideDone).toBe(false);
        expect(await tx.organization.count()).toBe(before + 1);
      });
      expect(await outside).toBe(before + 1);

      // Holding a runner does not hold the database (the ingestion pipeline keeps one for a whole file and still uses
      // Prisma); a runner's transaction does, like Prisma's.
      expect(
        await db2.withRunner(async (runner) => {
          await runner.query('SELECT 1');
          return [await db2.prisma.organization.count(), await db2.sql.query({ text: 'SELECT 2 AS two', values: [] })];
        }),
      ).toEqual([before + 1, [{ two: 2 }]]);
      let outsideRunner: Promise<number> | undefined;
      let outsideRunnerDone = false;
      await db2.withRunner((runner) =>
        runner.transaction(async (tx) => {
          await tx.query('INSERT INTO "Organization" (name, "updatedAt") VALUES ($1, now())', ['by runner']);
          outsideRunner = db2.prisma.organization.count().finally(() => (outsideRunnerDone = true));
          await sleep(100);
          expect(outsideRunnerDone).toBe(false);
        }),
      );
      expect(await outsideRunner).toBe(before + 2);

      await expect(
        db2.prisma.$transaction(async (tx) => {
          await tx.organization.create({ data: { name: 'rolled back' } });
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect(await db2.prisma.organization.count({ where: { name: 'rolled back' } })).toBe(0);
      expect(await db2.prisma.organization.count({ where: { name: 'by runner' } })).toBe(1);

      // Each failed statement is followed by one whose reply must be its own (see the wire-protocol test below).
      await db2.prisma.$executeRawUnsafe('CREATE TABLE once (id int PRIMARY KEY)');
      await db2.prisma.$executeRawUnsafe('INSERT INTO once VALUES (1)');
      for (let i = 0; i < 5; i++) {
        await expect(db2.prisma.$executeRaw`INSERT INTO once VALUES (${1})`).rejects.toThrow(/23505|unique/i);
        expect(await db2.prisma.$queryRaw`SELECT ${i}::int AS i`).toEqual([{ i }]);
        expect(await db2.sql.query({ text: 'SELECT $1::text AS marker', values: [`row-${i}`] })).toEqual([{ marker: `row-${i}` }]);
      }
    } finally {
      await db2.close();
    }
  });
});

describe('PGlite in the server thread (tests, PGLITE_THREAD=main)', () => {
  it('holds /healthz until a long statement ends: why the server runs it in a thread of its own', async () => {
    const db = await openTestDatabase('pglite');
    try {
      const { order, statement } = await healthzDuringStatement(db, 'SELECT pg_sleep(1)');
      await statement;
      expect(order).toEqual(['statement', 'healthz x3']);
    } finally {
      await db.close();
    }
  });
});

describe('PGlite over the wire protocol', () => {
  it('ends each extended-protocol cycle with one ReadyForQuery, also after an error', async () => {
    const db = await PGlite.create({ loadDataDir: new Blob([await readFile(inject('pgliteTemplate'))]) });
    const socketDir = await mkdtemp(path.join(os.tmpdir(), 'quarry-wire-'));
    const server = await servePGlite(db, path.join(socketDir, '.s.PGSQL.5432'));
    const client = new pg.Client({ host: socketDir, port: 5432, user: 'postgres', database: 'postgres' });
    await client.connect();
    try {
      await client.query('CREATE TEMP TABLE once (id int PRIMARY KEY); INSERT INTO once VALUES (1)');
      const messages: string[] = [];
      (client as unknown as { connection: NodeJS.EventEmitter }).connection.on('message', (m: { name: string }) => messages.push(m.name));
      for (let cycle = 0; cycle < 3; cycle++) {
        messages.length = 0;
        await expect(client.query('INSERT INTO once VALUES ($1)', [1])).rejects.toMatchObject({ code: '23505' });
        expect((await client.query('SELECT $1::int AS cycle', [cycle])).rows).toEqual([{ cycle }]);
        expect(messages.filter((m) => m === 'readyForQuery')).toHaveLength(2);
        expect(messages).toEqual(['parseComplete', 'bindComplete', 'noData', 'error', 'readyForQuery', 'parseComplete', 'bindComplete', 'rowDescription', 'dataRow', 'commandComplete', 'readyForQuery']);
      }
    } finally {
      await client.end();
      await server.stop();
      await db.close();
      await rm(socketDir, { recursive: true, force: true });
    }
  });

  it('keeps nothing of the replies it served (PGlite 0.4.3 kept every one it parsed)', async () => {
    v8.setFlagsFromString('--expose_gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const db = await PGlite.create();
    const socketDir = await mkdtemp(path.join(os.tmpdir(), 'quarry-wire-'));
    const server = await servePGlite(db, path.join(socketDir, '.s.PGSQL.5432'));
    const client = new pg.Client({ host: socketDir, port: 5432, user: 'postgres', database: 'postgres' });
    await client.connect();
    try {
      gc();
      const before = process.memoryUsage().heapUsed;
      // 100 MB of rows, extended protocol and simple queries alike.
      for (let i = 0; i < 50; i++) {
        expect((await client.query(`SELECT repeat('x', 1000000) AS big, $1::int AS i`, [i])).rows[0].i).toBe(i);
        expect((await client.query(`SELECT repeat('y', 1000000) AS big`)).rows[0].big).toHaveLength(1_000_000);
      }
      gc();
      expect((process.memoryUsage().heapUsed - before) / 1048576).toBeLessThan(25);
    } finally {
      await client.end();
      await server.stop();
      await db.close();
      await rm(socketDir, { recursive: true, force: true });
    }
  });

  it('drops ReadyForQuery from a reply however its messages are split across chunks', () => {
    const message = (type: string, body: number[]) => {
      const m = Buffer.alloc(5 + body.length);
      m.write(type, 0, 'latin1');
      m.writeInt32BE(4 + body.length, 1);
      Buffer.from(body).copy(m, 5);
      return m;
    };
    const error = message('E', [83, 69, 82, 82, 79, 82, 0, 0]);
    const reply = Buffer.concat([message('1', []), message('2', []), message('n', []), error, message('Z', [73]), message('D', [0, 1, 0, 0, 0, 1, 55])]);
    const expected = Buffer.concat([message('1', []), message('2', []), message('n', []), error, message('D', [0, 1, 0, 0, 0, 1, 55])]);
    for (let a = 0; a <= reply.length; a++) {
      for (let b = a; b <= reply.length; b++) {
        const out: Buffer[] = [];
        const filter = withoutReadyForQuery((data) => out.push(Buffer.from(data)));
        for (const part of [reply.subarray(0, a), reply.subarray(a, b), reply.subarray(b)]) if (part.length) filter(part);
        expect(Buffer.concat(out).equals(expected), `split at ${a}, ${b}`).toBe(true);
      }
    }
  });
});

describe('the WAL kept short (PGlite 0.4.3 asks a checkpointer it does not run, and then spins)', () => {
  it('makes a CHECKPOINT once the WAL since the last one passes the threshold, and not before', async () => {
    const db = await PGlite.create();
    const statements: string[] = [];
    let extra = 0;
    const stop = keepWalShort(async (sql) => {
      statements.push(sql.startsWith('SELECT') ? 'measure' : sql);
      const result = await db.query<Record<string, unknown>>(sql);
      // The distance as PGlite measures it, plus what the test pretends was written.
      return sql.startsWith('SELECT') ? { rows: [{ bytes: Number(result.rows[0].bytes) + extra }] } : result;
    }, 10);
    try {
      const wait = async (done: () => boolean) => {
        while (!done()) await new Promise((r) => setTimeout(r, 5));
      };
      await wait(() => statements.length >= 3);
      expect(statements).not.toContain('CHECKPOINT');
      extra = CHECKPOINT_AFTER_BYTES;
      await wait(() => statements.includes('CHECKPOINT'));
    } finally {
      stop();
      await db.close();
    }
  });
});
