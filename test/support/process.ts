import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface QuarryProcess {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts Quarry as `npm start` does (scripts/start.mjs), and resolves once it logs that it listens. */
export function startQuarry(env: Record<string, string>, timeoutMs = 90_000): Promise<QuarryProcess> {
  return startEntry('main', /"url":"(http:\/\/[^"]+)\/graphql".*"msg":"Quarry is listening"/, env, timeoutMs);
}

/** Starts a processing worker as `npm run worker` does; `url` is empty. */
export function startWorker(env: Record<string, string>, timeoutMs = 90_000): Promise<QuarryProcess> {
  return startEntry('worker', /"msg":"worker ready"()/, env, timeoutMs);
}

function startEntry(entry: 'main' | 'worker', ready: RegExp, env: Record<string, string>, timeoutMs: number): Promise<QuarryProcess> {
  const child = spawn(process.execPath, ['scripts/start.mjs', entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Quarry did not start in ${timeoutMs} ms:\n${out}\n${err}`)), timeoutMs);
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const match = ready.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({
          child,
          url: match[1],
          stdout: () => out,
          stderr: () => err,
          stop(signal = 'SIGTERM') {
            child.kill(signal);
            return exited;
          },
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`Quarry (${entry}) exited with ${code}:\n${out}\n${err}`), { code, stdout: out, stderr: err }));
    });
  });
}
