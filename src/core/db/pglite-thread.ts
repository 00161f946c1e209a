import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { threadModule } from '../thread-module.js';

/**
 * The embedded database in a thread of its own. PGlite is PostgreSQL compiled to WASM: a statement runs to its end
 * synchronously in whichever thread calls it. In the server's thread, a long statement (a big file's passages, an
 * index build) stops everything else there: requests, heartbeats, timers, signal handlers. In this thread it stops
 * only this thread; the server talks to it over a unix socket with `pg`, the same code path as PostgreSQL.
 */
export interface PGliteThread {
  /** What `pg` takes as `host`: the folder holding the socket (created with mode 0700, so only this user connects). */
  readonly socketDir: string;
  /** With `socketDir`, names the socket file `.s.PGSQL.<port>` as `pg` expects. */
  readonly port: number;
  /**
   * Closes PGlite in its thread, once the statement it runs (if any) has ended, and ends the thread. When `giveUp`
   * aborts first, it stops the thread instead, mid-statement: the folder is then left as after a crash, and the next
   * open recovers it from PostgreSQL's write-ahead log (committed data is kept, the interrupted transaction is not).
   */
  stop(giveUp: AbortSignal): Promise<'closed' | 'terminated'>;
}

export interface ThreadData {
  dataDir: string;
  socketPath: string;
}

export type ThreadMessage = { type: 'ready' } | { type: 'close' } | { type: 'closed' } | { type: 'failed'; message: string };

const PORT = 5432;

/** The thread's module: built beside this one in the bundle, bundled from TypeScript when run from src/. */
const entry = () => threadModule(new URL('./pglite-thread-entry.ts', import.meta.url), 'pglite-thread-entry', import.meta.url);

/**
 * Starts the thread on `dataDir` (a PGlite folder that exists, or a path for a new one) and resolves once it serves.
 * `onExit` is called if the thread ends other than through `stop` (PGlite aborted): the database is gone then.
 */
export async function startPGliteThread(dataDir: string, onExit: (error: Error) => void): Promise<PGliteThread> {
  const socketDir = await mkdtemp(path.join(os.tmpdir(), 'quarry-pglite-'));
  const worker = new Worker(await entry(), { workerData: { dataDir, socketPath: path.join(socketDir, `.s.PGSQL.${PORT}`) } satisfies ThreadData });
  let started = false;
  let stopping = false;
  let failure: string | undefined;
  worker.on('message', (message: ThreadMessage) => {
    if (message.type === 'failed') failure = message.message;
  });
  // An uncaught error ends the thread; its exit is what counts, reported below.
  worker.on('error', (error) => (failure ??= error.message));
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve)).then(async (code) => {
    await rm(socketDir, { recursive: true, force: true });
    if (started && !stopping) onExit(new Error(`The embedded database's thread ended (exit code ${code})${failure ? `: ${failure}` : ''}`));
    return code;
  });

  const ready = await new Promise<boolean>((resolve) => {
    worker.on('message', (message: ThreadMessage) => message.type === 'ready' && resolve(true));
    void exited.then(() => resolve(false));
  });
  if (!ready) throw new Error(`PGlite could not open ${dataDir}: ${failure ?? 'its thread ended'}`);
  started = true;

  let stopped: Promise<'closed' | 'terminated'> | undefined;
  return {
    socketDir,
    port: PORT,
    stop(giveUp) {
      stopped ??= (async () => {
        stopping = true;
        worker.postMessage({ type: 'close' } satisfies ThreadMessage);
        const late = new Promise<'late'>((resolve) => {
          if (giveUp.aborted) resolve('late');
          giveUp.addEventListener('abort', () => resolve('late'), { once: true });
        });
        if ((await Promise.race([exited, late])) === 'late') {
          await worker.terminate();
          await exited;
          return 'terminated';
        }
        if (failure) throw new Error(`PGlite did not close cleanly: ${failure}`);
        return 'closed';
      })();
      return stopped;
    },
  };
}

/** WAL written since the last checkpoint past which keepWalShort makes one: half the distance at which PGlite would ask. */
export const CHECKPOINT_AFTER_BYTES = 256 << 20;

/**
 * PGlite 0.4.3 runs no checkpointer, yet asks it for a checkpoint when the WAL written since the last one nears
 * max_wal_size (about 540 MB with its 1 GB): the statement writing then waits for the checkpointer, spinning in
 * PGlite's thread for a minute, and again at each next 16 MB of WAL, so a big file's ingestion (or a few big
 * uploads) stalls for good. A CHECKPOINT statement is made by the backend itself, in tens of milliseconds: this
 * makes one whenever the WAL since the last passes CHECKPOINT_AFTER_BYTES, looking every `everyMs`. `query` runs a
 * statement on its own (never inside someone's transaction). Returns the function that stops it. PGlite 0.4.4
 * disables the checkpointer request upstream.
 */
export function keepWalShort(query: (sql: string) => Promise<{ rows: Record<string, unknown>[] }>, everyMs = 5000): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void (async () => {
      const { rows } = await query(`SELECT (pg_current_wal_lsn() - (SELECT redo_lsn FROM pg_control_checkpoint()))::float8 AS bytes`);
      if (Number(rows[0]?.bytes ?? 0) > CHECKPOINT_AFTER_BYTES) await query('CHECKPOINT');
    })()
      .catch(() => {}) // closing, or the thread is gone: reported elsewhere
      .finally(() => (running = false));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
