/**
 * Runs inside the worker thread that owns the embedded database (started by pglite-thread.ts): opens PGlite on the
 * data folder, serves it on a private unix socket, and on `close` stops serving and closes PGlite, which writes its
 * state out so the folder opens cleanly next time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { ThreadData, ThreadMessage } from './pglite-thread.js';
import { servePGlite } from './pglite-wire.js';

const port = parentPort!;
const { dataDir, socketPath } = workerData as ThreadData;
const post = (message: ThreadMessage) => port.postMessage(message);

let db: PGlite | undefined;
let server: PGLiteSocketServer | undefined;
try {
  db = await PGlite.create({ dataDir, extensions: { vector } });
  server = await servePGlite(db, socketPath);
  port.on('message', (message: ThreadMessage) => {
    if (message.type === 'close') void close();
  });
  post({ type: 'ready' });
} catch (error) {
  await db?.close().catch(() => {});
  post({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  port.close();
}

async function close() {
  try {
    await server!.stop();
    // A client socket that closed in the same turn as stop() detaches on the next one and asks PGlite whether it is
    // in a transaction: let it, before PGlite is gone (fixed upstream in pglite-socket 0.2.17, for PGlite 0.5).
    await new Promise((resolve) => setImmediate(resolve));
    await db!.close();
    post({ type: 'closed' });
  } catch (error) {
    post({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  }
  port.close();
}
