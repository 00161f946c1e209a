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
export function startQuarry(env: Record<string, string>, timeoutMs = 30_000): Promise<QuarryProcess> {
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
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
      const match = /"url":"(http:\/\/[^"]+)\/graphql".*"msg":"Quarry is listening"/.exec(out);
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
      reject(Object.assign(new Error(`Quarry exited with ${code}:\n${out}\n${err}`), { code, stdout: out, stderr: err }));
    });
  });
}
