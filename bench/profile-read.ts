/**
 * tsx bench/profile-read.ts — a CPU profile of Quarry serving bench/graphql-read's nested read (DATABASE_URL, migrated):
 * seeds the same data, runs src/main.ts under `node --cpu-prof` for DURATION seconds at CLIENTS clients, and prints
 * where the server's CPU went (self time by function, then by package). Not a benchmark: a profile to read.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { loadConfig } from '../src/core/config.js';
import { openDatabase } from '../src/core/db/index.js';
import { createOrganization } from '../src/domain/organizations.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const DURATION = Number(process.env.DURATION ?? 10);
const CLIENTS = Number(process.env.CLIENTS ?? 10);
const QUERY = `{ sources(first: 20) { edges { node { id name fileCount
  files(first: 5) { edges { node { id fileName processingStatus sizeBytes createdAt } } }
  agents { edges { node { id name } } } } } } }`;

const config = loadConfig();
const db = await openDatabase(config);
const org = await createOrganization(db.prisma, { name: `profile-${Date.now()}` });
const agents = await Promise.all([0, 1, 2].map((i) => db.prisma.agent.create({ data: { organizationId: org.organizationId, name: `agent-${i}` } })));
for (let i = 0; i < 20; i++) {
  const source = await db.prisma.source.create({ data: { organizationId: org.organizationId, name: `source-${i}`, embeddingConfig: {} } });
  await db.prisma.file.createMany({
    data: Array.from({ length: 10 }, (_, j) => ({ organizationId: org.organizationId, sourceId: source.id, fileName: `source-${i}/file-${j}.md`, originalFileName: `file-${j}.md`, sizeBytes: 1000 + j, processingStatus: 'COMPLETED' as const })),
  });
  await db.prisma.sourceAgent.createMany({ data: agents.map((a) => ({ organizationId: org.organizationId, sourceId: source.id, agentId: a.id })) });
}
await db.prisma.$executeRawUnsafe('ANALYZE "Source", "File", "SourceAgent", "Agent"');
await db.close();

const dir = mkdtempSync(path.join(tmpdir(), 'quarry-profile-'));
const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', 'src/main.ts'], {
  cwd: ROOT,
  env: { ...process.env, LOG_LEVEL: 'info', PORT: '0' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise<string>((resolve) => {
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
    const port = /listening/i.test(out) && /https?:\/\/[^\s"/]+:(\d+)/.exec(out)?.[1];
    if (port) resolve(`http://127.0.0.1:${port}/graphql`);
  });
});
const request = { url, method: 'POST' as const, headers: { 'content-type': 'application/json', authorization: `Bearer ${org.apiKey}` }, body: JSON.stringify({ query: QUERY }) };
await autocannon({ ...request, connections: CLIENTS, duration: 3 });
const from = Number(process.hrtime.bigint() / 1000n); // µs on the monotonic clock the profile's timestamps use
const result = await autocannon({ ...request, connections: CLIENTS, duration: DURATION });
const to = Number(process.hrtime.bigint() / 1000n);
console.log(`${result.requests.average} rps, ${result.errors} errors, ${result.non2xx} non-2xx`);
child.kill('SIGTERM');
await new Promise((resolve) => child.once('exit', resolve));

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
const profile = JSON.parse(readFileSync(path.join(dir, readdirSync(dir)[0]), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number };
// Only the samples taken under the measured load (not startup, warm-up or shutdown).
const self = new Map<number, number>();
let at = profile.startTime;
profile.samples.forEach((id, i) => {
  at += profile.timeDeltas[i] ?? 0;
  if (at >= from && at <= to) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
for (const node of profile.nodes) {
  const t = self.get(node.id) ?? 0;
  const { functionName, url: file, lineNumber } = node.callFrame;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? (file.includes('/src/') ? 'quarry' : file.startsWith('node:') ? 'node core' : file ? file : functionName);
  const name = `${functionName || '(anonymous)'} ${file.split('/').slice(-2).join('/')}:${lineNumber}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + t);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + t);
}
const top = (m: Map<string, number>, n: number) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');
const idle = [...profile.nodes].filter((n) => n.callFrame.functionName === '(idle)').reduce((a, n) => a + (self.get(n.id) ?? 0), 0);
console.log(`busy ${((total - idle) / 1000 / result.requests.total).toFixed(2)} ms of the main thread per request`);
console.log(`\nby package (self time)\n${top(byPackage, 25)}\n\nby function (self time)\n${top(byFunction, 40)}`);
process.exit(0);
