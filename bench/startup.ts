/**
 * npm run bench:startup — time from `npm start` to the first successful `{ __typename }` query on the
 * embedded database (PGlite). Target: under 3 s on an idle machine. Measures, several times each, and prints the
 * medians, with the CPU time the server process had used when it started listening (which, unlike the wall-clock
 * time, does not grow with the machine's load) and the load average around the run:
 * - first start after `npm install` (the install step prepared the data folder from the migrated template);
 * - first start on a new, unprepared DATA_DIR (Quarry copies the template itself);
 * - a restart on existing data.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.RUNS ?? 5);
const PORT = 18283;
const KEY = 'bench-key-0123456789abcdef';

/** CPU milliseconds the server had used when it logged that it listens, per run. */
const cpuMs: number[] = [];

async function once(dataDir: string): Promise<number> {
  const started = performance.now();
  const child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(PORT), QUARRY_API_KEY: KEY, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'ignore'],
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    const line = output.split('\n').find((l) => l.includes('"Quarry is listening"'));
    if (line && output.length) {
      cpuMs.push(JSON.parse(line).cpuMs);
      output = '';
      child.stdout!.removeAllListeners('data').resume();
    }
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

/** What postinstall does for the default folder (not timed: it is part of `npm install`). */
function prepare(dataDir: string) {
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-pglite-template.ts'], { cwd: ROOT, env: { ...process.env, DATA_DIR: dataDir }, stdio: 'ignore' });
}

const loadBefore = os.loadavg();
const afterInstall: number[] = [];
const unprepared: number[] = [];
const restart: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'quarry-bench-'));
  prepare(dir);
  afterInstall.push(await once(dir));
  restart.push(await once(dir));
  await rm(dir, { recursive: true, force: true });
  const other = await mkdtemp(path.join(os.tmpdir(), 'quarry-bench-'));
  unprepared.push(await once(other));
  await rm(other, { recursive: true, force: true });
}
const fmt = (xs: number[]) => xs.map((x) => Math.round(x)).join(', ');
const line = (label: string, xs: number[]) => console.log(`  ${label.padEnd(46)} median ${String(Math.round(median(xs))).padStart(5)} ms   [${fmt(xs)}]`);
const load = (l: number[]) => l.map((x) => x.toFixed(1)).join(' / ');
console.log(`npm start → first successful query, embedded PGlite, ${RUNS} runs each, on ${os.cpus().length} cores`);
console.log(`  load average (1/5/15 min) before: ${load(loadBefore)}, after: ${load(os.loadavg())}`);
line('first start after npm install (default folder):', afterInstall);
line('first start on a new, unprepared DATA_DIR:', unprepared);
line('restart on existing data:', restart);
line('server CPU time until listening (all runs):', cpuMs);
const met = median(afterInstall) < 3000 && median(restart) < 3000;
console.log(`  target < 3000 ms after install and on restart → ${met ? 'met' : 'NOT met'}`);
