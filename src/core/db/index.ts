import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import lockfile from 'proper-lockfile';
import type { Config } from '../config.js';
import type { PoolStats } from '../metrics.js';
import { PrismaClient } from '../../generated/prisma/client.js';
import { copyTemplateTo } from './pglite-template.js';
import { keepWalShort, startPGliteThread } from './pglite-thread.js';
import { pgReader, pgliteReader, type SqlReader } from './reader.js';
import { pgClientRunner, pgliteRunner, pgPoolRunner, type SqlRunner } from './sql.js';

export { PrismaClient };

/**
 * One code path over two databases: PGlite (embedded, in-process WASM PostgreSQL with pgvector) when no
 * DATABASE_URL is set, PostgreSQL + pgvector otherwise. Everything above this file sees a PrismaClient.
 *
 * PGlite runs one query at a time and an interactive transaction blocks every other query, so code that
 * must run on both keeps transactions short and never uses the outer client inside `$transaction`.
 *
 * The server runs PGlite in a thread of its own and reaches it through `pg` over a unix socket (pglite-thread.ts),
 * so a long statement does not stop the server's event loop; tests and CLIs open it in their own thread (wrapPGlite).
 */
export interface Database {
  readonly kind: 'pglite' | 'postgres';
  /**
   * Whether raw SQL parameters may be Buffers in PostgreSQL's binary formats (e.g. a vector[]): over `pg` they can
   * (PostgreSQL, PGlite in its thread); PGlite's own driver (PGlite in this thread) sends text only.
   */
  readonly binaryParams: boolean;
  readonly prisma: PrismaClient;
  /** Raw reads on Prisma's connections without its query engine, for hot read paths (reader.ts). */
  readonly sql: SqlReader;
  /** Raw SQL outside Prisma on one connection held until `fn` ends: migrations, health checks. */
  withRunner<T>(fn: (runner: SqlRunner) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  /** The connection pool's use (metrics); absent when there is no pool (PGlite in this thread). */
  readonly poolStats?: () => PoolStats;
  /**
   * Closes the connections (and the embedded database). `timeoutMs` bounds the wait for a statement still running
   * in PGlite's thread: after it, the thread is stopped and close rejects with PGliteStoppedError.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/**
 * Raw SQL for long work (a file's processing, a purge): each statement or transaction takes a connection only while
 * it runs. Holding one for the whole work would block every other query on the embedded thread's single connection,
 * including the work's own Prisma calls (heartbeats, progress).
 */
export function perStatementRunner(db: Pick<Database, 'kind' | 'withRunner'>): SqlRunner {
  return {
    kind: db.kind,
    query: (sql, params) => db.withRunner((runner) => runner.query(sql, params)),
    exec: (script) => db.withRunner((runner) => runner.exec(script)),
    transaction: (fn) => db.withRunner((runner) => runner.transaction(fn)),
  };
}

export interface OpenOptions {
  /** Called with each SQL statement Prisma sends (tests count them). */
  onQuery?: (sql: string) => void;
}

export interface PGliteOptions extends OpenOptions {
  /** `worker` (default): PGlite runs in a thread of its own; `main`: in the caller's thread. */
  thread?: 'worker' | 'main';
  /** Default for `close({ timeoutMs })`. */
  closeTimeoutMs?: number;
  /** PGlite's thread ended unexpectedly (not through close): nothing can reach the database any more. */
  onThreadExit?: (error: Error) => void;
}

/** close() had to stop PGlite's thread in the middle of a statement. */
export class PGliteStoppedError extends Error {}

export class DataDirInUseError extends Error {}

export function pgliteDataPath(config: Pick<Config, 'DATA_DIR'>): string {
  return path.join(config.DATA_DIR, 'pglite');
}

export async function openDatabase(config: Config, options: PGliteOptions = {}): Promise<Database> {
  return config.databaseKind === 'postgres'
    ? openPostgres(config.DATABASE_URL!, config.DATABASE_POOL_SIZE, options)
    : openPGliteDir(pgliteDataPath(config), { thread: config.PGLITE_THREAD, closeTimeoutMs: config.SHUTDOWN_TIMEOUT_MS, ...options });
}

function makePrisma(adapter: SqlDriverAdapterFactory, options: OpenOptions): PrismaClient {
  if (!options.onQuery) return new PrismaClient({ adapter });
  const prisma = new PrismaClient({ adapter, log: [{ emit: 'event', level: 'query' }] });
  prisma.$on('query', (e) => options.onQuery!(e.query));
  return prisma as unknown as PrismaClient;
}

/**
 * Locks the folder so a second process gets a clear error instead of corrupting it (PGlite has no lock of its own).
 * The lock records its holder's host and pid: a lock left by a process that died (a crash, SIGKILL) is taken over
 * at once instead of after the lock's 15 s staleness period.
 */
async function lockDataDir(dir: string, retried = false): Promise<() => Promise<void>> {
  mkdirSync(dir, { recursive: true });
  const lockPath = `${dir}.lock`;
  try {
    const release = await lockfile.lock(dir, { lockfilePath: lockPath, stale: 15_000, update: 5_000, realpath: false });
    // Beside the lock, not in it: proper-lockfile watches the lock directory's mtime, which a file inside would change.
    writeFileSync(holderPath(lockPath), JSON.stringify({ host: hostname(), pid: process.pid }));
    return async () => {
      rmSync(holderPath(lockPath), { force: true });
      await release();
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') {
      if (!retried && holderIsGone(lockPath)) {
        rmSync(lockPath, { recursive: true, force: true });
        return lockDataDir(dir, true);
      }
      throw new DataDirInUseError(
        `The data folder ${dir} is in use by another Quarry process. PGlite allows one process per folder: ` +
          `stop the other process, set DATA_DIR to another folder, or set DATABASE_URL to use PostgreSQL.`,
      );
    }
    throw error;
  }
}

const holderPath = (lockPath: string) => `${lockPath}.holder.json`;

/** True when the lock's holder ran on this host and no longer exists. */
function holderIsGone(lockPath: string): boolean {
  try {
    const { host, pid } = JSON.parse(readFileSync(holderPath(lockPath), 'utf8')) as { host: string; pid: number };
    if (host !== hostname() || pid === process.pid) return false;
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export async function openPGliteDir(dir: string, options: PGliteOptions = {}): Promise<Database> {
  const unlock = await lockDataDir(dir);
  try {
    // A new folder starts as a copy of the install-time template instead of running initdb (pglite-template.ts).
    if (!existsSync(path.join(dir, 'PG_VERSION'))) await copyTemplateTo(dir);
    if ((options.thread ?? 'worker') === 'worker') return await openPGliteThread(dir, options, unlock);
    const db = await PGlite.create({ dataDir: dir, extensions: { vector } });
    return wrapPGlite(db, options, unlock);
  } catch (error) {
    await unlock();
    throw error;
  }
}

/**
 * PGlite in its own thread, reached through `pg` (pglite-thread.ts): Prisma, the raw reader and the runners are
 * PostgreSQL's. One connection: PGlite is one session that runs one statement at a time, so a second connection
 * would only interleave protocol messages in that session (pglite-wire.ts). As in-thread, an interactive
 * transaction has the database to itself until it ends.
 */
async function openPGliteThread(dir: string, options: PGliteOptions, unlock: () => Promise<void>): Promise<Database> {
  const onThreadExit =
    options.onThreadExit ??
    ((error: Error) => {
      throw error;
    });
  const thread = await startPGliteThread(dir, onThreadExit);
  // idleTimeoutMillis 0: the connection is never closed for idleness (a new one costs a thread round trip for nothing).
  const pool = new pg.Pool({
    host: thread.socketDir,
    port: thread.port,
    user: 'postgres',
    database: 'postgres',
    max: 1,
    idleTimeoutMillis: 0,
    // A new connection finds the session as the last one left it: its prepared statements (the reader's) would clash
    // with the ones this connection's `pg` prepares again.
    onConnect: async (client) => void (await client.query('DEALLOCATE ALL')),
  });
  pool.on('error', () => {});
  const prisma = makePrisma(new PrismaPg(pool), options);
  const runner = pgPoolRunner(pool, 'pglite');
  const stopWalGuard = keepWalShort((sql) => pool.query(sql));
  let closing: Promise<void> | undefined;
  const giveUp = new AbortController();
  return {
    kind: 'pglite',
    binaryParams: true,
    prisma,
    sql: pgReader(pool, options.onQuery),
    poolStats: () => statsOf(pool),
    // As in-thread: the runner does not hold the one connection (callers keep using Prisma while they hold it).
    withRunner: (fn) => fn(runner),
    ping: async () => void (await pool.query('SELECT 1')),
    close({ timeoutMs = options.closeTimeoutMs ?? 10_000 } = {}) {
      // Each call may bring the deadline closer (a shutdown running out of time), never push it back.
      const timer = setTimeout(() => giveUp.abort(), timeoutMs);
      closing ??= (async () => {
        stopWalGuard();
        const late = new Promise((resolve) => giveUp.signal.addEventListener('abort', resolve, { once: true }));
        // A statement still running keeps its connection until it ends; PGlite closes after it, or is stopped at the deadline.
        await Promise.race([prisma.$disconnect().then(() => pool.end()), late]);
        const outcome = await thread.stop(giveUp.signal).finally(unlock);
        if (outcome === 'terminated') {
          throw new PGliteStoppedError(
            `PGlite was still running a statement when its time to close ran out and was stopped; the next start recovers ${dir} from its write-ahead log`,
          );
        }
      })();
      void closing.then(
        () => clearTimeout(timer),
        () => clearTimeout(timer),
      );
      return closing;
    },
  };
}

/** Wraps an open PGlite (a folder, memory, or a test clone). */
export function wrapPGlite(db: PGlite, options: OpenOptions = {}, onClose?: () => Promise<void>): Database {
  const prisma = makePrisma(new PrismaPGlite(db), options);
  const runner = pgliteRunner(db);
  let closed = false;
  return {
    kind: 'pglite',
    binaryParams: false,
    prisma,
    sql: pgliteReader(db, options.onQuery),
    withRunner: (fn) => fn(runner),
    ping: async () => void (await db.query('SELECT 1')),
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await db.close();
      await onClose?.();
    },
  };
}

export async function openPostgres(url: string, poolSize = 10, options: OpenOptions = {}): Promise<Database> {
  // One pool for Prisma and the raw reader, so DATABASE_POOL_SIZE bounds every connection of the process.
  // JIT off: it pays off only for long analytical queries, and a short statement whose plan merely contains a costly
  // branch (the exact scan a vector search may fall back to, never executed) spent 2.8 s compiling (passage-search.ts).
  const pool = new pg.Pool({ connectionString: url, max: poolSize, options: '-c jit=off' });
  // An idle connection that drops is replaced on the next checkout; without a listener the event would crash the process.
  pool.on('error', () => {});
  let closing: Promise<void> | undefined;
  const prisma = makePrisma(new PrismaPg(pool), options);
  return {
    kind: 'postgres',
    binaryParams: true,
    prisma,
    sql: pgReader(pool, options.onQuery),
    poolStats: () => statsOf(pool),
    async withRunner(fn) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return await fn(pgClientRunner(client));
      } finally {
        await client.end();
      }
    },
    ping: async () => void (await prisma.$queryRaw`SELECT 1`),
    async close() {
      if (closing) return closing;
      closing = prisma.$disconnect().then(() => pool.end());
      return closing;
    },
  };
}

function statsOf(pool: pg.Pool): PoolStats {
  return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options.max ?? 10 };
}

/** For the migration CLI: raw SQL access without a Prisma client. */
export async function openSqlRunner(config: Config): Promise<{ runner: SqlRunner; close: () => Promise<void> }> {
  if (config.databaseKind === 'postgres') {
    const client = new pg.Client({ connectionString: config.DATABASE_URL });
    await client.connect();
    return { runner: pgClientRunner(client), close: () => client.end() };
  }
  const dir = pgliteDataPath(config);
  const unlock = await lockDataDir(dir);
  const db = await PGlite.create({ dataDir: dir, extensions: { vector } });
  return {
    runner: pgliteRunner(db),
    close: async () => {
      await db.close();
      await unlock();
    },
  };
}

/**
 * A consistent copy of the embedded database's folder as a gzipped tarball (PGlite's dumpDataDir). It holds the
 * folder's lock while it runs, so the server must be stopped (one process per folder); nothing writes meanwhile.
 */
export async function backupDataDir(dir: string, outFile: string): Promise<{ bytes: number }> {
  if (!existsSync(path.join(dir, 'PG_VERSION'))) throw new Error(`${dir} holds no embedded database`);
  const unlock = await lockDataDir(dir);
  try {
    const db = await PGlite.create({ dataDir: dir, extensions: { vector } });
    try {
      const dump = Buffer.from(await (await db.dumpDataDir('gzip')).arrayBuffer());
      writeFileSync(outFile, dump);
      return { bytes: dump.length };
    } finally {
      await db.close();
    }
  } finally {
    await unlock();
  }
}

/** Restores a backup made by backupDataDir into `dir`, which must not hold a database yet. */
export async function restoreDataDir(backupFile: string, dir: string): Promise<void> {
  if (existsSync(path.join(dir, 'PG_VERSION'))) throw new Error(`${dir} already holds a database: restore into an empty folder (move it away first)`);
  const unlock = await lockDataDir(dir);
  try {
    const db = await PGlite.create({ dataDir: dir, loadDataDir: new Blob([readFileSync(backupFile)]), extensions: { vector } });
    await db.query('SELECT 1');
    await db.close();
  } finally {
    await unlock();
  }
}
