import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * PGlite served over PostgreSQL's wire protocol on a unix socket (@electric-sql/pglite-socket), so that `pg`, and
 * Prisma through @prisma/adapter-pg, talk to it exactly as they talk to PostgreSQL.
 *
 * One client connection at a time: PGlite is one backend session, so its unnamed statement and portal, its named
 * prepared statements and its session settings are shared by every socket connection, and pglite-socket queues
 * protocol messages one by one, so two clients' Parse/Bind/Execute sequences could interleave. The pool in front of it
 * has one connection (pglite-thread.ts), which is also how PGlite runs statements anyway: one at a time.
 */
export async function servePGlite(db: PGlite, socketPath: string): Promise<PGLiteSocketServer> {
  sendReadyForQueryOnlyAtSync(db);
  // Room for a reconnect while the previous connection's close is still being processed.
  const server = new PGLiteSocketServer({ db, path: socketPath, maxConnections: 4 });
  await server.start();
  return server;
}

/** Extended-protocol messages after which PostgreSQL never sends ReadyForQuery (only Sync and Query end a cycle). */
const EXTENDED = new Set(['P', 'B', 'D', 'E', 'C'].map((c) => c.charCodeAt(0)));
const READY_FOR_QUERY = 'Z'.charCodeAt(0);

/**
 * PGlite 0.4.3 answers an error in an extended-protocol message (a failed Execute, say a unique violation) with
 * ErrorResponse *and* ReadyForQuery, then sends ReadyForQuery again for the Sync. In-process that is harmless (PGlite
 * parses its own replies), but over a socket the client takes the first one as the end of the failed query and the
 * second one as the end of its *next* query, which then returns nothing while its real reply answers the query after
 * it. pglite-socket runs each protocol message on its own, so dropping ReadyForQuery from the replies to the
 * messages that never end a cycle restores PostgreSQL's behaviour.
 */
function sendReadyForQueryOnlyAtSync(db: PGlite): void {
  const execProtocolRawStream = db.execProtocolRawStream.bind(db);
  const execProtocolStream = db.execProtocolStream.bind(db);
  db.execProtocolRawStream = async (message, options) => {
    await execProtocolRawStream(message, EXTENDED.has(message[0]) && options?.onRawData ? { ...options, onRawData: withoutReadyForQuery(options.onRawData) } : options);
    if (message[0] === SYNC || message[0] === QUERY) await forgetReplies(execProtocolStream);
  };
}

const SYNC = 'S'.charCodeAt(0);
const QUERY = 'Q'.charCodeAt(0);
const NOTHING = new Uint8Array(0);

/**
 * PGlite 0.4.3 parses every reply it sends to a raw-stream caller (the socket server) and keeps the parsed messages
 * in a list that only its own query calls empty: every row ever read through the socket stayed in its thread's
 * memory (a 100 MB file read back as 200 MB of hex text). Its stream call empties that list at its start and end;
 * given nothing, it runs nothing and sends nothing. Made only once a cycle has ended (after Sync or a simple Query,
 * whose ReadyForQuery went out), so it cannot take a ReadyForQuery a cycle still owes. Fixed upstream in 0.5.3.
 */
async function forgetReplies(execProtocolStream: PGlite['execProtocolStream']): Promise<void> {
  await execProtocolStream(NOTHING, { syncToFs: false, throwOnError: false });
}

/** Forwards a stream of backend messages minus ReadyForQuery; messages may be split anywhere across chunks. */
export function withoutReadyForQuery(forward: (data: Uint8Array) => void): (data: Uint8Array) => void {
  let header = Buffer.alloc(0); // the start of a message whose 5-byte header (type, length) has not all arrived
  let left = 0; // bytes of the current message's body still to come
  let dropping = false;
  return (data) => {
    const kept: Uint8Array[] = [];
    let at = 0;
    while (at < data.length) {
      if (left > 0) {
        const n = Math.min(left, data.length - at);
        if (!dropping) kept.push(data.subarray(at, at + n));
        at += n;
        left -= n;
        continue;
      }
      const take = Math.min(5 - header.length, data.length - at);
      header = Buffer.concat([header, data.subarray(at, at + take)]);
      at += take;
      if (header.length < 5) break;
      dropping = header[0] === READY_FOR_QUERY;
      left = header.readInt32BE(1) - 4;
      if (!dropping) kept.push(header);
      header = Buffer.alloc(0);
    }
    if (kept.length) forward(kept.length === 1 ? kept[0] : Buffer.concat(kept));
  };
}
