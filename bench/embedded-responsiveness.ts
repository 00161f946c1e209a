/**
 * npm run bench:responsiveness — how the embedded server (PGlite, `npm start` defaults, local embedder) answers while
 * it ingests a multi-MB text file: /healthz and a small GraphQL read (a source by id) are each polled every 100 ms
 * (one request of each kind at a time) from the upload's start until the file is COMPLETED, and their latencies are
 * summarised as p50 / p99 / max.
 * Runs PGlite in its own thread (PGLITE_THREAD=worker, the default) and in the server's thread (main), interleaved,
 * RUNS times each (default 3), a fresh server and data folder per run; prints each run, then the medians and the
 * worker/main ratios. Targets (issue 14): /healthz p99 ≤ 200 ms, small read p99 ≤ 500 ms while processing.
 * SIZE_MB sets the file's size (default 10); VERBOSE=1 prints the server's per-file step timings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.RUNS ?? 3);
const SIZE_MB = Number(process.env.SIZE_MB ?? 10);
const POLL_MS = 100;
const KEY = `qk_bench_${randomBytes(12).toString('hex')}`;
const MODES = ['worker', 'main'] as const;
type Mode = (typeof MODES)[number];

const WORDS = (
  'the of and to in is that for it as with was on be by this are or from at an which have not has but were can ' +
  'quarry granite marble basalt slate sediment layer rock stone mineral crystal pressure heat erosion river valley ' +
  'mountain fault fold magma lava ash tuff pumice obsidian quartz feldspar mica clay sand silt gravel limestone'
).split(' ');

/** Sentences and paragraphs of Zipf-ish words, deterministic. */
function corpus(bytes: number): Buffer {
  let x = 7;
  const rand = () => (x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const parts: string[] = [];
  for (let size = 0; size < bytes; ) {
    const words = Array.from({ length: 40 + Math.floor(rand() * 60) }, () => WORDS[Math.floor(WORDS.length * rand() ** 2)]);
    const paragraph = `${words.join(' ')}.\n\n`;
    parts.push(paragraph);
    size += paragraph.length;
  }
  return Buffer.from(parts.join('').slice(0, bytes));
}

interface Server {
  child: ChildProcess;
  url: string;
  dataDir: string;
}

const live = new Set<ChildProcess>();
// A failed run must not leave its server behind.
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

async function startServer(mode: Mode): Promise<Server> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'quarry-bench-resp-'));
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', DATA_DIR: dataDir, QUARRY_API_KEY: KEY, PGLITE_THREAD: mode },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      // VERBOSE=1 shows the server's per-file step timings.
      if (process.env.VERBOSE) for (const line of String(d).split('\n')) if (line.includes('file processed')) console.log(`  [${mode}] ${line}`);
      const m = /"url":"(http:\/\/[^"]+)\/graphql".*"msg":"Quarry is listening"/.exec(out);
      if (m) resolve({ child, url: m[1], dataDir });
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
}

async function stopServer(server: Server) {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
  await rm(server.dataDir, { recursive: true, force: true });
}

async function gql(url: string, query: string, variables?: object) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

function upload(url: string, sourceId: string, name: string, bytes: Buffer): Promise<string> {
  const boundary = `----quarry${randomBytes(8).toString('hex')}`;
  const query = 'mutation($input: UploadFileInput!) { uploadFile(input: $input) { file { id } } }';
  const head =
    `--${boundary}\r\ncontent-disposition: form-data; name="operations"\r\n\r\n` +
    JSON.stringify({ query, variables: { input: { sourceId, file: null } } }) +
    `\r\n--${boundary}\r\ncontent-disposition: form-data; name="map"\r\n\r\n{"0":["variables.input.file"]}` +
    `\r\n--${boundary}\r\ncontent-disposition: form-data; name="0"; filename="${name}"\r\ncontent-type: text/plain\r\n\r\n`;
  const body = Buffer.concat([Buffer.from(head), bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  return new Promise((resolve, reject) => {
    const req = request(`${url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        const json = JSON.parse(text);
        if (json.errors) reject(new Error(JSON.stringify(json.errors)));
        else resolve(json.data.uploadFile.file.id);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const FILE_STATUS = 'query($id: ID!) { file(id: $id) { processingStatus errorMessage } }';
const SMALL_READ = 'query($id: ID!) { source(id: $id) { id name } }';

interface Run {
  mode: Mode;
  seconds: number;
  healthz: number[];
  read: number[];
  /** Requests that failed (a connection reset while the server's thread was blocked, say); their wait is in the latencies. */
  failed: number;
}

async function measure(mode: Mode, text: Buffer): Promise<Run> {
  const server = await startServer(mode);
  try {
    const name = `bench-${randomBytes(4).toString('hex')}`;
    const sourceId = (await gql(server.url, `mutation { createSource(input: { name: "${name}" }) { source { id } } }`)).createSource.source.id as string;
    // Warm-up (not measured): the first upload and read compile their code paths.
    const warm = await upload(server.url, sourceId, 'warm.txt', text.subarray(0, 100_000));
    while ((await gql(server.url, FILE_STATUS, { id: warm })).file.processingStatus !== 'COMPLETED') await new Promise((r) => setTimeout(r, 50));

    const healthz: number[] = [];
    const read: number[] = [];
    let done = false;
    let failed: string | undefined;
    let failedRequests = 0;
    /**
     * Sends `send` every POLL_MS, one request at a time: a tick that finds the previous request still waiting sends
     * nothing (an open loop would pile up thousands of waiting reads behind a busy database and measure the pile).
     */
    const poll = (into: number[], send: () => Promise<unknown>) => {
      let waiting: Promise<unknown> | undefined;
      const timer = setInterval(() => {
        if (waiting || done || failed) return;
        const t0 = performance.now();
        waiting = send()
          // A request that fails (a kept-alive connection the blocked server reset) waited too: its time counts.
          .then(
            () => into.push(performance.now() - t0),
            () => {
              into.push(performance.now() - t0);
              failedRequests++;
            },
          )
          .finally(() => (waiting = undefined));
      }, POLL_MS);
      return async () => {
        clearInterval(timer);
        await waiting;
      };
    };
    const stopHealthz = poll(healthz, () => fetch(`${server.url}/healthz`).then((r) => r.text()));
    const stopRead = poll(read, () => gql(server.url, SMALL_READ, { id: sourceId }));
    const t0 = performance.now();
    const fileId = await upload(server.url, sourceId, 'big.txt', text);
    // Not measured: how the bench learns that the file is done.
    while (!done && !failed) {
      // A blocked server may reset a kept-alive connection (counted in the polls above); ask again.
      const status = await gql(server.url, FILE_STATUS, { id: fileId }).catch(() => null);
      if (status?.file.processingStatus === 'COMPLETED') done = true;
      if (status?.file.processingStatus === 'ERROR') failed = status.file.errorMessage;
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (performance.now() - t0) / 1000;
    await Promise.all([stopHealthz(), stopRead()]);
    if (failed) throw new Error(`file failed: ${failed}`);
    return { mode, seconds, healthz, read, failed: failedRequests };
  } finally {
    await stopServer(server);
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const median = (xs: number[]) => pct(xs, 50);
const ms = (x: number) => `${Math.round(x)}`.padStart(6);

async function main() {
  const text = corpus(SIZE_MB << 20);
  const runs: Run[] = [];
  console.log(`Embedded server ingesting a ${SIZE_MB} MB text file; /healthz and a small read every ${POLL_MS} ms (latencies in ms)`);
  console.log('  run  thread  completed_s   healthz p50    p99    max    read p50    p99    max   samples  failed');
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, and the order flips each round, so drift in the machine's load falls on both.
    for (const mode of i % 2 ? [...MODES].reverse() : MODES) {
      const run = await measure(mode, text);
      runs.push(run);
      console.log(
        `  ${String(i + 1).padStart(3)}  ${mode.padEnd(6)}  ${run.seconds.toFixed(1).padStart(11)}   ${ms(pct(run.healthz, 50))}      ${ms(pct(run.healthz, 99))} ${ms(Math.max(...run.healthz))}      ${ms(pct(run.read, 50))}      ${ms(pct(run.read, 99))} ${ms(Math.max(...run.read))}   ${`${run.healthz.length}/${run.read.length}`.padStart(7)}  ${run.failed}`,
      );
    }
  }
  const summary = (mode: Mode) => {
    const of = runs.filter((r) => r.mode === mode);
    return {
      seconds: median(of.map((r) => r.seconds)),
      healthz50: median(of.map((r) => pct(r.healthz, 50))),
      healthz99: median(of.map((r) => pct(r.healthz, 99))),
      read50: median(of.map((r) => pct(r.read, 50))),
      read99: median(of.map((r) => pct(r.read, 99))),
    };
  };
  const w = summary('worker');
  const m = summary('main');
  const load = (await readFile('/proc/loadavg', 'utf8').catch(() => '? ? ?')).split(' ').slice(0, 3).join(' ');
  console.log(`\nMedians of ${RUNS} runs (load average ${load})`);
  console.log('                          worker thread   server thread   worker/main   target');
  const row = (label: string, a: number, b: number, target: string, digits = 0) =>
    console.log(`  ${label.padEnd(24)}${a.toFixed(digits).padStart(13)}   ${b.toFixed(digits).padStart(13)}   ${(a / b).toFixed(2).padStart(11)}   ${target}`);
  row('time to COMPLETED (s)', w.seconds, m.seconds, '', 1);
  row('/healthz p50 (ms)', w.healthz50, m.healthz50, '');
  row('/healthz p99 (ms)', w.healthz99, m.healthz99, '≤ 200');
  row('small read p50 (ms)', w.read50, m.read50, '');
  row('small read p99 (ms)', w.read99, m.read99, '≤ 500');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
