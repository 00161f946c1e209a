/**
 * Loaded (`node --import`) into every server process bench/graphql-read starts, whatever the server: counts the SQL
 * statements the process sends through `pg` (Quarry's Prisma adapter, its raw reader, PostGraphile and the ceiling
 * all use it) and answers the bench's IPC message `meter` with that count and the process's CPU time (user + system,
 * every thread: garbage collection included). The bench takes the difference over a measurement.
 */
import pg from 'pg';

let statements = 0;
const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  statements++;
  return query.apply(this, args);
} as typeof pg.Client.prototype.query;

process.on('message', (message) => {
  if (message !== 'meter') return;
  const { user, system } = process.cpuUsage();
  process.send!({ meter: { cpuMicros: user + system, statements } });
});
