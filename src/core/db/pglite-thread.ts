import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

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
   * Closes PGlite in its thread, once the statement it runs (if any) has ended, and ends the thread. After
   * `timeoutMs` it stops the thread instead, mid-statement: the folder is then left as after a crash, and the next
   * open recovers it from PostgreSQL's write-ahead log (committed data is kept, the interrupted transaction is not).
   */
  stop(timeoutMs: number): Promise<'closed' | 'terminated'>;
}

export interface ThreadData {
  dataDir: string;
  socketPath: string;
}

export type ThreadMessage = { type: 'ready' } | { type: 'close' } | { type: 'closed' } | { type: 'failed'; message: string };

const PORT = 5432;

/** Run from src/ (tsx, tests) the entry is TypeScript, loaded through tsx; in the bundle `npm start` runs, a sibling .mjs. */
function entry(): { url: URL; execArgv: string[] } {
  if (!import.meta.url.endsWith('.ts')) return { url: new URL('./pglite-thread-entry.mjs', import.meta.url), execArgv: process.execArgv };
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { url: new URL('./pglite-thread-entry.ts', import.meta.url), execArgv: [...process.execArgv, '--import', tsx] };
}

/**
 * Starts the thread on `dataDir` (a PGlite folder that exists, or a path for a new one) and resolves once it serves.
 * `onExit` is called if the thread ends other than through `stop` (PGlite aborted): the database is gone then.
 */
export async function startPGliteThread(dataDir: string, onExit: (error: Error) => void): Promise<PGliteThread> {
  const socketDir = await mkdtemp(path.join(os.tmpdir(), 'quarry-pglite-'));
  const { url, execArgv } = entry();
  const worker = new Worker(url, { workerData: { dataDir, socketPath: path.join(socketDir, `.s.PGSQL.${PORT}`) } satisfies ThreadData, execArgv });
  let stopping = false;
  let failure: string | undefined;
  worker.on('message', (message: ThreadMessage) => {
    if (message.type === 'failed') failure = message.message;
  });
  // An uncaught error ends the thread; its exit is what counts, reported below.
  worker.on('error', (error) => (failure ??= error.message));
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve)).then(async (code) => {
    await rm(socketDir, { recursive: true, force: true });
    if (!stopping) onExit(new Error(`The embedded database's thread ended (exit code ${code})${failure ? `: ${failure}` : ''}`));
    return code;
  });

  const ready = await new Promise<boolean>((resolve) => {
    worker.on('message', (message: ThreadMessage) => message.type === 'ready' && resolve(true));
    void exited.then(() => resolve(false));
  });
  if (!ready) {
    stopping = true;
    throw new Error(`PGlite could not open ${dataDir}: ${failure ?? 'its thread ended'}`);
  }

  let stopped: Promise<'closed' | 'terminated'> | undefined;
  return {
    socketDir,
    port: PORT,
    stop(timeoutMs) {
      stopped ??= (async () => {
        stopping = true;
        worker.postMessage({ type: 'close' } satisfies ThreadMessage);
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
        const outcome = await Promise.race([exited, late]);
        clearTimeout(timer);
        if (outcome === 'late') {
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
