/**
 * The peer for bench/graphql-read: PostGraphile 5 (Amber preset, simplified inflection) over the bench's own
 * database, served by grafserv on node:http: the server a user would pick instead of Quarry for GraphQL over
 * PostgreSQL. It answers the same nested read (see PEER_QUERY in bench/graphql-read.ts) from the same tables.
 *
 * Env: PORT, DATABASE_URL, DATABASE_POOL_SIZE (default 10, as Quarry's).
 */
import './promise-with-resolvers.js'; // before PostGraphile, which needs it on Node 20
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PgSimplifyInflectionPreset } from '@graphile/simplify-inflection';
import pg from 'pg';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { postgraphile } from 'postgraphile';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DATABASE_POOL_SIZE ?? 10) });
pool.on('error', () => {});
const pgl = postgraphile({
  extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
  pgServices: [makePgService({ pool, schemas: ['public'] })],
  grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false },
  grafast: { explain: false },
});
const serv = pgl.createServ(grafserv);
const server = createServer();
await serv.addTo(server);
// Build the schema before saying so: the first request must not pay for introspection.
await pgl.getSchema();
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () =>
  server.close(async () => {
    await pgl.release();
    await pool.end();
    process.exit(0);
  }),
);
