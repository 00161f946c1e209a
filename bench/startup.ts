/**
 * npm run bench:startup — time from `npm start` to the first successful `{ __typename }` query on the
 * embedded database (PGlite). Target: under 3 s. Runs a fresh data folder (first start: initdb, migrations,
 * bootstrap) and then restarts on the same folder, several times each, and prints the medians.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.RUNS ?? 5);
const PORT = 18283;
const KEY = 'bench-key-0123456789abcdef';

async function once(dataDir: string): Promise<number> {
  const started = performance.now();
  const child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(PORT), QUARRY_API_KEY: KEY, LOG_LEVEL: 'warn' },
    stdio: 'ignore',
    detached: true,
  });
  try {
    for (;;) {
      try {
        const response = await fetch(`http://127.0.0.1:${PORT}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
          body: JSON.stringify({ query: '{ __typename }' }),
        });
        if (response.ok && (await response.json()).data?.__typename === 'Query') return performance.now() - started;
      } catch {
        // not listening yet
      }
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await new Promise((r) => child.once('exit', r));
    // npm may exit before Quarry has closed the database: wait for its lock on the folder to go.
    while (existsSync(path.join(dataDir, 'pglite.lock'))) await new Promise((r) => setTimeout(r, 20));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const fresh: number[] = [];
const restart: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'quarry-bench-'));
  fresh.push(await once(dir));
  restart.push(await once(dir));
  await rm(dir, { recursive: true, force: true });
}
const fmt = (xs: number[]) => xs.map((x) => Math.round(x)).join(', ');
console.log(`npm start → first successful query, embedded PGlite, ${RUNS} runs each`);
console.log(`  first start (new data folder): median ${Math.round(median(fresh))} ms   [${fmt(fresh)}]`);
console.log(`  restart (existing data):       median ${Math.round(median(restart))} ms   [${fmt(restart)}]`);
console.log(`  target: < 3000 ms → ${median(fresh) < 3000 && median(restart) < 3000 ? 'met' : 'NOT met'}`);
