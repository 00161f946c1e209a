/**
 * A ceiling for bench/graphql-read (CEILING=1): the same nested read answered with the least work any server on
 * this stack could do: plain node:http, no GraphQL, no authentication, one prepared SQL statement through pg
 * that returns the whole page (20 sources, each with its file count, 5 newest files and attached agents) and
 * a JSON.stringify of the GraphQL-shaped response. What it cannot reach, the real server cannot either: it
 * measures what PostgreSQL and node's HTTP and driver layers cost on this machine.
 *
 * Env: PORT, DATABASE_URL, ORGANIZATION_ID (whose sources to read; the bench passes its seeded organization).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';

const organizationId = process.env.ORGANIZATION_ID!;
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DATABASE_POOL_SIZE ?? 10) });

const PAGE = {
  name: 'ceiling_page',
  text: `SELECT s.id, s.name,
      (SELECT count(*)::int FROM "File" f WHERE f."sourceId" = s.id AND f."organizationId" = $1) AS "fileCount",
      (SELECT coalesce(json_agg(f), '[]') FROM (
         SELECT f.id, f."fileName", f."processingStatus", f."sizeBytes", f."createdAt" FROM "File" f
          WHERE f."sourceId" = s.id AND f."organizationId" = $1 ORDER BY f."createdAt" DESC, f.id DESC LIMIT 5) f) AS files,
      (SELECT coalesce(json_agg(a ORDER BY a."linkedAt", a.id), '[]') FROM (
         SELECT a.id, a.name, l."createdAt" AS "linkedAt" FROM "SourceAgent" l JOIN "Agent" a ON a.id = l."agentId"
          WHERE l."sourceId" = s.id AND a."organizationId" = $1) a) AS agents
    FROM "Source" s WHERE s."organizationId" = $1 ORDER BY s."createdAt", s.id LIMIT 20`,
};

type Row = { id: string; name: string; fileCount: number; files: { id: string; fileName: string; processingStatus: string; sizeBytes: number; createdAt: string }[]; agents: { id: string; name: string }[] };

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    try {
      JSON.parse(Buffer.concat(chunks).toString()); // a GraphQL request body, read as a server would
      const { rows } = await pool.query<Row>({ ...PAGE, values: [organizationId] });
      const edges = rows.map((s) => ({
        node: {
          id: s.id,
          name: s.name,
          fileCount: s.fileCount,
          files: {
            edges: s.files.map((f) => ({
              node: { id: f.id, fileName: f.fileName.slice(f.fileName.indexOf('/') + 1), processingStatus: f.processingStatus, sizeBytes: f.sizeBytes, createdAt: new Date(f.createdAt).toISOString() },
            })),
          },
          agents: s.agents.map((a) => ({ id: a.id, name: a.name })),
        },
      }));
      res.writeHead(200, { 'content-type': 'application/graphql-response+json; charset=utf-8' });
      res.end(JSON.stringify({ data: { sources: { edges } } }));
    } catch (error) {
      res.writeHead(500).end(String(error));
    }
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
