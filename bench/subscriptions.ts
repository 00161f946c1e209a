/**
 * npm run bench:subscriptions — SUBSCRIBERS (default 1,000) graphql-ws connections, each subscribed to one
 * source's files (`sourceFilesChanged`), on a Quarry server in a child process, with PostgreSQL and Redis on
 * loopback. This process plays the worker: it updates the File row and publishes the change on Redis, EVENTS
 * times (default 200), one every INTERVAL_MS (default 50). Prints:
 * - the delay from an event's publication to its delivery to every subscriber (p50/p99 over events of the
 *   slowest subscriber's delay; target p99 ≤ 100 ms), and over all single deliveries;
 * - the server's memory per connection (growth of its resident set from idle to all subscribed, per connection);
 * - whether any event was lost (a subscriber that missed one; target: none) and whether all saw the final state.
 * Delivery times are taken when this process reads the message, so they include this process's own work
 * decoding SUBSCRIBERS × events messages.
 *
 * Needs DATABASE_URL (migrated: npm run db:migrate) and REDIS_URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { loadConfig } from '../src/core/config.js';
import { openDatabase } from '../src/core/db/index.js';
import { EventBus, fileChange } from '../src/core/events.js';
import { openRedis } from '../src/core/redis.js';
import { createOrganization } from '../src/domain/organizations.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 1000);
const EVENTS = Number(process.env.EVENTS ?? 200);
const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 50);
const PORT = Number(process.env.BENCH_PORT ?? 18285);

const config = loadConfig();
if (config.databaseKind !== 'postgres' || !config.REDIS_URL) {
  console.error('Set DATABASE_URL (a migrated PostgreSQL database) and REDIS_URL (see README).');
  process.exit(1);
}

function startServer(): Promise<ChildProcess> {
  // e.g. SERVER_NODE_ARGS=--cpu-prof to profile the server alone
  const nodeArgs = process.env.SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, 'scripts/start.mjs'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(PORT),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      RUN_WORKERS: 'false',
      MIGRATE_ON_START: 'false',
      SUBSCRIPTIONS_PER_ORGANIZATION: String(SUBSCRIBERS + 10),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    const poll = async () => {
      try {
        if ((await fetch(`http://127.0.0.1:${PORT}/healthz`)).ok) return resolve(child);
      } catch {
        // not yet listening
      }
      setTimeout(poll, 50);
    };
    void poll();
  });
}

/** CPU time (user + system) a process has used, in ms (Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Resident set size of a process, in bytes (Linux): the median of a few samples, as GC makes it move. */
async function rss(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
    samples.push(Number(line.split(/\s+/)[1]) * 1024);
    await new Promise((r) => setTimeout(r, 200));
  }
  return samples.sort((a, b) => a - b)[2];
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function main() {
  const db = await openDatabase(config);
  const org = await createOrganization(db.prisma, { name: `bench-subs-${Date.now()}` });
  const source = await db.prisma.source.create({ data: { organizationId: org.organizationId, name: 'bench', embeddingConfig: {} } });
  let file = await db.prisma.file.create({
    data: { organizationId: org.organizationId, sourceId: source.id, fileName: 'bench/big.pdf', originalFileName: 'big.pdf', processingStatus: 'EMBEDDING', totalChunks: EVENTS, chunksEmbedded: 0 },
  });
  const redis = openRedis(config)!;
  const events = await EventBus.open(redis);
  const closeEvents = () => events.close().then(() => redis.close());
  const server = await startServer();
  const clients: Client[] = [];
  try {
    // Idle baseline after a warm-up subscription, so code loading and first-use caches are not counted.
    const warm = createClient({ url: `ws://127.0.0.1:${PORT}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${org.apiKey}` }, retryAttempts: 0 });
    await new Promise<void>((resolve, reject) =>
      warm.subscribe({ query: `subscription { sourceFilesChanged(sourceId: "${source.id}") { fileId } }` }, { next: () => resolve(), error: reject, complete: () => {} }),
    );
    await warm.dispose();
    await new Promise((r) => setTimeout(r, 500));
    const idle = await rss(server.pid!);

    // received[s][n]: when subscriber s got chunksEmbedded = n (performance.now()).
    const received: Float64Array[] = Array.from({ length: SUBSCRIBERS }, () => new Float64Array(EVENTS + 1));
    const finals = new Array<boolean>(SUBSCRIBERS).fill(false);
    const connectStarted = performance.now();
    for (let batch = 0; batch < SUBSCRIBERS; batch += 100) {
      const ready: Promise<void>[] = [];
      for (let s = batch; s < Math.min(SUBSCRIBERS, batch + 100); s++) {
        const client = createClient({
          url: `ws://127.0.0.1:${PORT}/graphql`,
          webSocketImpl: WebSocket,
          connectionParams: { authorization: `Bearer ${org.apiKey}` },
          retryAttempts: 0,
        });
        clients.push(client);
        ready.push(
          new Promise((resolve, reject) => {
            let first = true;
            client.subscribe<{ sourceFilesChanged: { status: string; chunksEmbedded: number } }>(
              { query: `subscription($s: ID!) { sourceFilesChanged(sourceId: $s) { fileId status chunksEmbedded } }`, variables: { s: source.id } },
              {
                next: (result) => {
                  const now = performance.now();
                  const event = result.data!.sourceFilesChanged;
                  if (first) {
                    first = false;
                    resolve();
                  } else if (event.status === 'COMPLETED') finals[s] = true;
                  else received[s][event.chunksEmbedded] = now;
                },
                error: reject,
                complete: () => {},
              },
            );
          }),
        );
      }
      await Promise.all(ready);
    }
    const connectMs = performance.now() - connectStarted;
    await new Promise((r) => setTimeout(r, 1000));
    const loaded = await rss(server.pid!);

    // The worker's loop: write the row, publish, note the time of publication.
    const published = new Float64Array(EVENTS + 1);
    // The same events read straight from Redis here: how much of the delay is the broker and the machine.
    const viaRedis = new Float64Array(EVENTS + 1);
    const raw = new Redis(config.REDIS_URL!);
    await raw.subscribe(redis.key('events', 'file', org.organizationId));
    raw.on('message', (_channel, message) => {
      const change = JSON.parse(message) as { processingStatus: string; chunksEmbedded: number };
      if (change.processingStatus === 'EMBEDDING') viaRedis[change.chunksEmbedded] = performance.now();
    });
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const cpuBefore = cpuMs(server.pid!);
    const ownCpuBefore = process.cpuUsage();
    for (let n = 1; n <= EVENTS; n++) {
      file = await db.prisma.file.update({ where: { id: file.id }, data: { chunksEmbedded: n } });
      published[n] = performance.now();
      events.publish('file', org.organizationId, fileChange(file));
      await new Promise((r) => setTimeout(r, INTERVAL_MS));
    }
    file = await db.prisma.file.update({ where: { id: file.id }, data: { processingStatus: 'COMPLETED' } });
    events.publish('file', org.organizationId, fileChange(file));
    const deadline = Date.now() + 30_000;
    while (finals.some((f) => !f) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const serverCpu = cpuMs(server.pid!) - cpuBefore;
    loop.disable();
    raw.disconnect();
    const broker = Array.from(viaRedis.subarray(1), (at, i) => at - published[i + 1]).sort((a, b) => a - b);
    const ownCpu = process.cpuUsage(ownCpuBefore);
    const clientsCpu = (ownCpu.user + ownCpu.system) / 1000;

    const everyone: number[] = [];
    const single: number[] = [];
    let lost = 0;
    for (let n = 1; n <= EVENTS; n++) {
      let slowest = 0;
      let complete = true;
      for (let s = 0; s < SUBSCRIBERS; s++) {
        const at = received[s][n];
        if (!at) {
          lost++;
          complete = false;
          continue;
        }
        const delay = at - published[n];
        single.push(delay);
        if (delay > slowest) slowest = delay;
      }
      if (complete) everyone.push(slowest);
    }
    everyone.sort((a, b) => a - b);
    single.sort((a, b) => a - b);

    console.log(`\nsubscriptions bench: ${SUBSCRIBERS} graphql-ws subscribers to one source's files, ${EVENTS} events every ${INTERVAL_MS} ms, PostgreSQL + Redis on loopback`);
    console.log(`  connect + subscribe all:            ${(connectMs / 1000).toFixed(1)} s`);
    console.log(`  publish → delivered to every one:   p50 ${ms(percentile(everyone, 50))}   p99 ${ms(percentile(everyone, 99))}   max ${ms(everyone.at(-1) ?? NaN)}   (target p99 ≤ 100 ms)`);
    console.log(`  publish → one delivery:             p50 ${ms(percentile(single, 50))}   p99 ${ms(percentile(single, 99))}`);
    console.log(`  publish → read from Redis here:     p50 ${ms(percentile(broker, 50))}   p99 ${ms(percentile(broker, 99))}   (this process's event loop delay p99 ${ms(loop.percentile(99) / 1e6)}, max ${ms(loop.max / 1e6)})`);
    console.log(`  server CPU per event:               ${ms(serverCpu / (EVENTS + 1))} for ${SUBSCRIBERS} deliveries (${((serverCpu / (EVENTS + 1)) * 1000 / SUBSCRIBERS).toFixed(1)} µs each)`);
    console.log(`  clients' CPU per event (this process): ${ms(clientsCpu / (EVENTS + 1))} (same ${os.cpus().length} cores; load average at the end ${os.loadavg()[0].toFixed(1)})`);
    console.log(`  server memory:                      idle ${(idle / 2 ** 20).toFixed(0)} MiB, with ${SUBSCRIBERS} subscribers ${(loaded / 2 ** 20).toFixed(0)} MiB → ${((loaded - idle) / SUBSCRIBERS / 1024).toFixed(1)} KiB per connection`);
    console.log(
      `  lost events:                        ${lost === 0 ? 'none' : `${lost} of ${EVENTS * SUBSCRIBERS} deliveries missing`} (${everyone.length} of ${EVENTS} events reached every subscriber)` +
        (lost ? '\n                                      a subscriber that falls behind is sent the newest state instead of each step (coalesced)' : ''),
    );
    console.log(`  final state reached by all:         ${finals.every(Boolean) ? 'yes' : `no (${finals.filter((f) => !f).length} missing)`}\n`);
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    await closeEvents();
    await db.close();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
