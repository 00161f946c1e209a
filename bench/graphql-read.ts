/**
 * npm run bench:graphql-read — the nested read of a GraphQL client (20 sources, each with its 5 newest files, its
 * file count and its attached agents) against PostgreSQL, Quarry next to the server a user would pick instead:
 * PostGraphile 5 answering the same query from the same tables (bench/postgraphile-peer.ts). Beside them, a bare
 * graphql-yoga `{ __typename }` server (bench/bare-yoga.ts: what yoga alone costs) and, with CEILING=1, the same
 * read with no GraphQL at all and one prepared statement (bench/read-ceiling.ts: the most any server could do here).
 *
 * Before measuring, the bench checks that Quarry, PostGraphile and the ceiling answer with the same ids (sources in
 * order, each one's files in order, its file count, its agents). Then, for 10 and 50 clients, it runs the servers
 * interleaved (Quarry, PostGraphile, ceiling, bare, Quarry, …), RUNS rounds (default 3) of DURATION seconds
 * (default 10) each, and prints the medians of rounds: requests per second, p50/p99 latency, the node CPU each
 * request cost the server process (user + system time of the process, garbage collection included, over the
 * measurement), the SQL statements it sent per request (both counted in the process by bench/server-meter.ts), and
 * the ratios Quarry/PostGraphile and Quarry/ceiling.
 *
 * Needs DATABASE_URL (migrated: npm run db:migrate). Every server runs in a child process on a port of its own
 * choosing; the load generator (autocannon) runs here. On a 2-core machine they share the cores with PostgreSQL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import autocannon from 'autocannon';
import { loadConfig } from '../src/core/config.js';
import { openDatabase } from '../src/core/db/index.js';
import { createOrganization } from '../src/domain/organizations.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const DURATION = Number(process.env.DURATION ?? 10);
const RUNS = Number(process.env.RUNS ?? 3);
const CLIENTS = (process.env.CLIENTS ?? '10,50').split(',').map(Number);
const CEILING = process.env.CEILING === '1';

const QUARRY_QUERY = `{ sources(first: 20) { edges { node { id name fileCount
  files(first: 5) { edges { node { id fileName processingStatus sizeBytes createdAt } } }
  agents { edges { node { id name } } } } } } }`;

/**
 * The same read in PostGraphile's schema: the organization's sources in Quarry's default order (oldest first), the
 * 5 newest files of each, their count, and the agents through the link table. (`rowId` is the table's id;
 * PostGraphile's `id` is its own global node id.)
 */
const PEER_QUERY = `query($org: String!) { sources(first: 20, condition: { organizationId: $org }, orderBy: [CREATED_AT_ASC, PRIMARY_KEY_ASC]) {
  edges { node { rowId name fileCount: files { totalCount }
    files(first: 5, orderBy: [CREATED_AT_DESC, PRIMARY_KEY_DESC]) { edges { node { rowId fileName processingStatus sizeBytes createdAt } } }
    sourceAgents { nodes { agent { rowId name } } } } } } }`;

const config = loadConfig();
if (config.databaseKind !== 'postgres') {
  console.error('Set DATABASE_URL to a migrated PostgreSQL database (see README).');
  process.exit(1);
}

async function seed(): Promise<{ key: string; organizationId: string }> {
  const db = await openDatabase(config);
  const org = await createOrganization(db.prisma, { name: `bench-${Date.now()}` });
  const agents = await Promise.all([0, 1, 2].map((i) => db.prisma.agent.create({ data: { organizationId: org.organizationId, name: `agent-${i}` } })));
  for (let i = 0; i < 20; i++) {
    const source = await db.prisma.source.create({
      data: { organizationId: org.organizationId, name: `source-${i}`, embeddingConfig: { endpointType: 'local', model: 'lexical-384', dim: 384, chunkSize: 300 } },
    });
    await db.prisma.file.createMany({
      data: Array.from({ length: 10 }, (_, j) => ({
        organizationId: org.organizationId,
        sourceId: source.id,
        fileName: `source-${i}/file-${j}.md`,
        originalFileName: `file-${j}.md`,
        sizeBytes: 1000 + j,
        processingStatus: 'COMPLETED' as const,
      })),
    });
    await db.prisma.sourceAgent.createMany({ data: agents.map((a) => ({ organizationId: org.organizationId, sourceId: source.id, agentId: a.id })) });
  }
  // Freshly loaded tables have no planner statistics until autovacuum gets to them (up to a minute later), and
  // plans made without them (an organization index scan filtered by source instead of the per-source index)
  // are not what a running server sees.
  await db.prisma.$executeRawUnsafe('ANALYZE "Source", "File", "SourceAgent", "Agent"');
  await db.close();
  return { key: org.apiKey, organizationId: org.organizationId };
}

interface Server {
  name: string;
  url: string;
  body: string;
  headers: Record<string, string>;
  child: ChildProcess;
}

/** Starts a server in a child process with the meter loaded, on a free port it reports in its "listening" line. */
function start(name: string, script: string, env: Record<string, string>, request: Omit<Server, 'name' | 'url' | 'child'>): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './bench/server-meter.ts', script], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const port = /listening/i.test(out) && /https?:\/\/[^\s"/]+:(\d+)/.exec(out)?.[1];
      if (port) resolve({ name, url: `http://127.0.0.1:${port}/graphql`, child, ...request });
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${err}`)));
  });
}

/** The process's CPU time (µs) and SQL statements so far (bench/server-meter.ts). */
function meter(child: ChildProcess): Promise<{ cpuMicros: number; statements: number }> {
  return new Promise((resolve) => {
    const onMessage = (message: { meter?: { cpuMicros: number; statements: number } }) => {
      if (!message.meter) return;
      child.off('message', onMessage);
      resolve(message.meter);
    };
    child.on('message', onMessage);
    child.send('meter');
  });
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  cpuMs: number;
  statements: number;
}

async function measure(server: Server, connections: number, duration = DURATION): Promise<Figures> {
  const before = await meter(server.child);
  const result = await autocannon({
    url: server.url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...server.headers },
    body: server.body,
    connections,
    duration,
  });
  const after = await meter(server.child);
  if (result.non2xx || result.errors) throw new Error(`${server.name}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
  const requests = result.requests.total;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuMs: (after.cpuMicros - before.cpuMicros) / 1000 / requests,
    statements: (after.statements - before.statements) / requests,
  };
}

type Answer = { id: string; fileCount: number; files: string[]; agents: string[] }[];

async function ask(server: Server): Promise<unknown> {
  const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...server.headers }, body: server.body });
  const body = (await response.json()) as { data?: unknown; errors?: unknown };
  if (!response.ok || body.errors || !body.data) throw new Error(`${server.name} answered ${response.status}: ${JSON.stringify(body).slice(0, 500)}`);
  return body.data;
}

type Edges<T> = { edges: { node: T }[] };
type QuarrySource = { id: string; fileCount: number; files: Edges<{ id: string }>; agents: { id: string }[] | Edges<{ id: string }> };
type PeerSource = { rowId: string; fileCount: { totalCount: number }; files: Edges<{ rowId: string }>; sourceAgents: { nodes: { agent: { rowId: string } }[] } };

const agentIds = (agents: QuarrySource['agents']) => (Array.isArray(agents) ? agents : agents.edges.map((e) => e.node)).map((a) => a.id);

/** Ids in answer order, except agents: their link rows share one timestamp, so the servers may list them in any order. */
function quarryAnswer(data: unknown): Answer {
  return (data as { sources: Edges<QuarrySource> }).sources.edges.map(({ node: s }) => ({
    id: s.id,
    fileCount: s.fileCount,
    files: s.files.edges.map((e) => e.node.id),
    agents: agentIds(s.agents).sort(),
  }));
}

function peerAnswer(data: unknown): Answer {
  return (data as { sources: Edges<PeerSource> }).sources.edges.map(({ node: s }) => ({
    id: s.rowId,
    fileCount: s.fileCount.totalCount,
    files: s.files.edges.map((e) => e.node.rowId),
    agents: s.sourceAgents.nodes.map((n) => n.agent.rowId).sort(),
  }));
}

async function checkSameIds(quarry: Server, peer: Server, ceiling?: Server) {
  const expected = JSON.stringify(quarryAnswer(await ask(quarry)));
  const answers: [string, Answer][] = [['PostGraphile', peerAnswer(await ask(peer))]];
  if (ceiling) answers.push(['ceiling', quarryAnswer(await ask(ceiling))]);
  if (JSON.parse(expected).length !== 20) throw new Error(`Quarry answered ${JSON.parse(expected).length} sources, not 20`);
  for (const [name, answer] of answers) {
    if (JSON.stringify(answer) !== expected) throw new Error(`${name} answered other ids than Quarry:\n${JSON.stringify(answer)}\n${expected}`);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const medians = (xs: Figures[]): Figures => ({
  rps: median(xs.map((x) => x.rps)),
  p50: median(xs.map((x) => x.p50)),
  p99: median(xs.map((x) => x.p99)),
  cpuMs: median(xs.map((x) => x.cpuMs)),
  statements: median(xs.map((x) => x.statements)),
});

const { key, organizationId } = await seed();
const servers: Server[] = [];
try {
  const quarry = await start('Quarry', 'src/main.ts', {}, { body: JSON.stringify({ query: QUARRY_QUERY }), headers: { authorization: `Bearer ${key}` } });
  servers.push(quarry);
  const peer = await start('PostGraphile', 'bench/postgraphile-peer.ts', {}, { body: JSON.stringify({ query: PEER_QUERY, variables: { org: organizationId } }), headers: {} });
  servers.push(peer);
  const ceiling = CEILING
    ? await start('ceiling', 'bench/read-ceiling.ts', { ORGANIZATION_ID: organizationId }, { body: JSON.stringify({ query: QUARRY_QUERY }), headers: {} })
    : undefined;
  if (ceiling) servers.push(ceiling);
  const bare = await start('bare yoga', 'bench/bare-yoga.ts', {}, { body: JSON.stringify({ query: '{ __typename }' }), headers: {} });
  servers.push(bare);

  await checkSameIds(quarry, peer, ceiling);
  for (const server of servers) await measure(server, 10, Math.min(DURATION, 5)); // warm-up: JIT, pools, prepared statements

  console.log(`graphql-read: 20 sources × (5 newest files, file count, agents), PostgreSQL; ${RUNS} interleaved rounds of ${DURATION} s, medians`);
  console.log('same ids from Quarry, PostGraphile' + (ceiling ? ' and the ceiling' : '') + ': checked');
  for (const clients of CLIENTS) {
    const rounds = new Map<Server, Figures[]>(servers.map((s) => [s, []]));
    for (let round = 0; round < RUNS; round++) {
      for (const server of servers) rounds.get(server)!.push(await measure(server, clients));
    }
    const figures = new Map([...rounds].map(([server, xs]) => [server, medians(xs)]));
    console.log(`\n${clients} clients`);
    console.log('| server | rps | p50 ms | p99 ms | node CPU ms/request | SQL statements/request |');
    console.log('|---|---|---|---|---|---|');
    for (const [server, f] of figures) {
      console.log(`| ${server.name} | ${f.rps.toFixed(0)} | ${f.p50.toFixed(1)} | ${f.p99.toFixed(1)} | ${f.cpuMs.toFixed(2)} | ${f.statements.toFixed(2)} |`);
    }
    const q = figures.get(quarry)!;
    const p = figures.get(peer)!;
    console.log(`Quarry/PostGraphile: rps ${(q.rps / p.rps).toFixed(2)}, CPU per request ${(q.cpuMs / p.cpuMs).toFixed(2)}`);
    if (ceiling) {
      const c = figures.get(ceiling)!;
      console.log(`Quarry/ceiling: rps ${(q.rps / c.rps).toFixed(2)}, CPU per request ${(q.cpuMs / c.cpuMs).toFixed(2)}`);
    }
  }
  console.log('\ntarget: Quarry/PostGraphile rps ≥ 1.0 at 10 and 50 clients, Quarry ≤ 3 ms node CPU and ≤ 2 SQL statements per request');
} finally {
  for (const server of servers) server.child.kill('SIGTERM');
}
process.exit(0);
