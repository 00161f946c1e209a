/**
 * npm run bench:graphql-read — throughput and latency of a realistic nested read against PostgreSQL:
 * 20 sources with their 5 newest files and attached agents, at 1, 10 and 50 concurrent clients, next to a
 * bare graphql-yoga `{ __typename }` server measured in the same run. Target: at 50 clients the nested
 * query reaches ≥ 25% of the bare server's throughput.
 *
 * Needs DATABASE_URL (migrated: npm run db:migrate). Servers run in child processes; the load generator
 * (autocannon) runs here. DURATION (seconds per measurement, default 10) and RUNS (default 3) are settable.
 * Both servers get the same machine and the same load generator, measured one after the other (never at once);
 * on a 2-core machine the nested read also shares the cores with PostgreSQL, which the bare server never needs.
 * CEILING=1 adds bench/read-ceiling.ts: the same read with no GraphQL at all and one SQL statement, the most
 * any server could do here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import autocannon from 'autocannon';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/core/db/index.js';
import { createOrganization } from '../src/domain/organizations.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const DURATION = Number(process.env.DURATION ?? 10);
const RUNS = Number(process.env.RUNS ?? 3);
const CLIENTS = [1, 10, 50];
// CEILING=1 also measures bench/read-ceiling.ts: the same read with no GraphQL and one SQL statement.
const CEILING = process.env.CEILING === '1';

const NESTED = `{ sources(first: 20) { edges { node { id name fileCount
  files(first: 5) { edges { node { id fileName processingStatus sizeBytes createdAt } } }
  agents { edges { node { id name } } } } } } } }`;

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

function start(args: string[], env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (/listening/i.test(out)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

async function measure(url: string, body: string, headers: Record<string, string>, connections: number) {
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    connections,
    duration: DURATION,
  });
  if (result.non2xx || result.errors) throw new Error(`${result.non2xx} non-2xx responses, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const { key, organizationId } = await seed();
const quarry = await start(['--import', 'tsx', 'src/main.ts'], { PORT: '18301', LOG_LEVEL: 'info' });
const bare = await start(['--import', 'tsx', 'bench/bare-yoga.ts'], { PORT: '18302' });
const ceiling = CEILING ? await start(['--import', 'tsx', 'bench/read-ceiling.ts'], { PORT: '18303', ORGANIZATION_ID: organizationId }) : undefined;
try {
  const nested = { url: 'http://127.0.0.1:18301/graphql', body: JSON.stringify({ query: NESTED }), headers: { authorization: `Bearer ${key}` } };
  const baseline = { url: 'http://127.0.0.1:18302/graphql', body: JSON.stringify({ query: '{ __typename }' }), headers: {} };
  // Warm both up (JIT, connection pools).
  await measure(nested.url, nested.body, nested.headers, 10);
  await measure(baseline.url, baseline.body, baseline.headers, 10);
  if (ceiling) await measure('http://127.0.0.1:18303/graphql', nested.body, {}, 10);

  console.log(`graphql-read: 20 sources × 5 newest files + agents, PostgreSQL; ${DURATION}s per measurement, median of ${RUNS} runs`);
  console.log('clients | nested rps | p50 ms | p99 ms | bare rps | p50 ms | p99 ms | nested/bare' + (ceiling ? ' | ceiling rps | ceiling/bare' : ''));
  for (const c of CLIENTS) {
    const n: { rps: number; p50: number; p99: number }[] = [];
    const b: typeof n = [];
    const z: typeof n = [];
    for (let r = 0; r < RUNS; r++) {
      n.push(await measure(nested.url, nested.body, nested.headers, c));
      b.push(await measure(baseline.url, baseline.body, baseline.headers, c));
      if (ceiling) z.push(await measure('http://127.0.0.1:18303/graphql', nested.body, {}, c));
    }
    const row = (xs: typeof n) => [median(xs.map((x) => x.rps)), median(xs.map((x) => x.p50)), median(xs.map((x) => x.p99))];
    const [nr, np50, np99] = row(n);
    const [br, bp50, bp99] = row(b);
    console.log(
      `${String(c).padStart(7)} | ${nr.toFixed(0).padStart(10)} | ${np50.toFixed(1).padStart(6)} | ${np99.toFixed(1).padStart(6)} | ` +
        `${br.toFixed(0).padStart(8)} | ${bp50.toFixed(1).padStart(6)} | ${bp99.toFixed(1).padStart(6)} | ${((nr / br) * 100).toFixed(1).padStart(10)}%` +
        (ceiling ? ` | ${row(z)[0].toFixed(0).padStart(11)} | ${((row(z)[0] / br) * 100).toFixed(1).padStart(11)}%` : ''),
    );
  }
  console.log('target: nested ≥ 25% of bare at 50 clients');
} finally {
  quarry.kill('SIGTERM');
  bare.kill('SIGTERM');
  ceiling?.kill('SIGTERM');
}
process.exit(0);
