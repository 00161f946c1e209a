import http, { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../src/core/config.js';
import { outboundFetch, OutboundRefusedError, parseAllowList, refusedRange } from '../src/core/outbound.js';
import { CALLBACK_FAILED, CALLBACK_REFUSED, callbackSettings } from '../src/domain/callbacks.js';
import { createTestApp, type Tenant, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';

/**
 * Names under .test never reach a real resolver: this table answers them, and counts the questions, so the tests
 * can make a name resolve to anything (a private address, a different address on the second question).
 */
const fakeDns = vi.hoisted(() => ({ answers: new Map<string, (string[] | null)[]>(), asked: new Map<string, number>() }));
vi.mock('node:dns/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:dns/promises')>();
  const lookup = async (host: string, options: object) => {
    const answers = fakeDns.answers.get(host);
    if (!answers) return actual.lookup(host, options as never);
    const n = fakeDns.asked.get(host) ?? 0;
    fakeDns.asked.set(host, n + 1);
    const addresses = answers[Math.min(n, answers.length - 1)];
    if (addresses === null) return new Promise<never>(() => {}); // a resolver that never answers
    if (!addresses.length) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { ...actual, lookup, default: { ...actual, lookup } };
});

/**
 * A fence around every connection the code under test opens: only loopback addresses are ever dialled (this
 * machine's only targets), and the spy tells whether anything was dialled at all.
 */
const originalRequest = http.request;
const dialled = vi.spyOn(http, 'request').mockImplementation(((options: http.RequestOptions, callback?: (res: IncomingMessage) => void) => {
  const host = String(options.host);
  if (!host.startsWith('127.') && host !== '::1') throw new Error(`test fence: a connection to ${host} was attempted`);
  return originalRequest(options, callback);
}) as typeof http.request);

interface Receiver {
  url: string;
  port: number;
  requests: { method?: string; url?: string; host?: string; body: string }[];
  close(): Promise<void>;
}

/** A real HTTP server on `host` (default 127.0.0.1) that answers every request with `reply`. */
async function receiver(reply: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(200).end(), host = '127.0.0.1'): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, host: req.headers.host, body });
      reply(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/hook`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port nothing listens on (a server's, after it closed). */
async function closedPort(): Promise<number> {
  const r = await receiver();
  await r.close();
  return r.port;
}

const LOOPBACK = parseAllowList('127.0.0.1');
const send = (url: string, allowPrivate = parseAllowList('')) =>
  outboundFetch(url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' }, timeoutMs: 2000, policy: { allowPrivate } });

beforeEach(() => {
  dialled.mockClear();
  fakeDns.answers.clear();
  fakeDns.asked.clear();
});

describe('address ranges', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'], // cloud metadata
    ['fe80::1', 'linkLocal'],
    ['fd00:ec2::254', 'uniqueLocal'], // AWS metadata over IPv6
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.100.100.200', 'carrierGradeNat'], // Alibaba Cloud metadata
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'], // IPv4-mapped IPv6 counts as the IPv4 address it stands for
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['64:ff9b::a00:1', 'rfc6052'], // NAT64 of 10.0.0.1
    ['2002:a00:1::', '6to4'],
  ])('refuses %s (%s)', (address, range) => {
    expect(refusedRange(address, [])).toBe(range);
  });

  it('allows public unicast addresses, and what the allow-list names', () => {
    for (const address of ['8.8.8.8', '93.184.216.34', '2606:4700:4700::1111']) expect(refusedRange(address, [])).toBeNull();
    const list = parseAllowList('127.0.0.1, 10.0.0.0/8 ::1');
    expect(refusedRange('127.0.0.1', list)).toBeNull();
    expect(refusedRange('::ffff:127.0.0.1', list)).toBeNull();
    expect(refusedRange('10.9.8.7', list)).toBeNull();
    expect(refusedRange('::1', list)).toBeNull();
    expect(refusedRange('127.0.0.2', list)).toBe('loopback');
    expect(refusedRange('169.254.169.254', list)).toBe('linkLocal');
    expect(refusedRange('169.254.169.254', 'any')).toBeNull();
  });

  it('reads CALLBACK_ALLOW_PRIVATE from the configuration, refuses an invalid one, and hands it to callbacks', () => {
    expect(loadConfig({}, '/nonexistent').CALLBACK_ALLOW_PRIVATE).toEqual([]);
    const config = loadConfig({ CALLBACK_ALLOW_PRIVATE: '127.0.0.0/8,::1' }, '/nonexistent');
    expect(config.CALLBACK_ALLOW_PRIVATE.map(([address, bits]) => `${address.toString()}/${bits}`)).toEqual(['127.0.0.0/8', '::1/128']);
    expect(callbackSettings(config).allowPrivate).toBe(config.CALLBACK_ALLOW_PRIVATE);
    expect(() => loadConfig({ CALLBACK_ALLOW_PRIVATE: 'localhost' }, '/nonexistent')).toThrow(ConfigError);
    expect(() => loadConfig({ CALLBACK_ALLOW_PRIVATE: '10.0.0.0/99' }, '/nonexistent')).toThrow(/CALLBACK_ALLOW_PRIVATE: "10.0.0.0\/99" is not an IP address or CIDR range/);
  });
});

describe('the guarded outbound client', () => {
  let local: Receiver;
  beforeAll(async () => {
    local = await receiver();
  });
  afterAll(() => local.close());

  it('refuses every non-public target before connecting', async () => {
    fakeDns.answers.set('inside.test', [['10.0.0.1']]);
    fakeDns.answers.set('metadata.test', [['169.254.169.254', 'fd00:ec2::254']]);
    const targets = [
      local.url,
      `http://[::1]:${local.port}/`,
      `http://localhost:${local.port}/`,
      'http://localhost:5432/',
      'http://0.0.0.0:22/',
      `http://2130706433:${local.port}/`, // 127.0.0.1 written as one number
      `http://[::ffff:127.0.0.1]:${local.port}/`,
      'http://10.0.0.1/',
      'http://172.16.0.1/',
      'http://192.168.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00:ec2::254]/',
      'http://[fe80::1]/',
      'http://100.64.0.1/',
      'http://224.0.0.1/',
      'http://[ff02::1]/',
      'http://255.255.255.255/',
      'https://inside.test/hook',
      'http://metadata.test/latest/meta-data/',
    ];
    for (const url of targets) {
      await expect(send(url), url).rejects.toBeInstanceOf(OutboundRefusedError);
    }
    expect(dialled).not.toHaveBeenCalled();
    expect(local.requests).toHaveLength(0);
  });

  it('refuses a name that does not resolve like a refused one', async () => {
    fakeDns.answers.set('nowhere.test', [[]]);
    await expect(send('http://nowhere.test/')).rejects.toBeInstanceOf(OutboundRefusedError);
    await expect(send('ftp://example.com/')).rejects.toBeInstanceOf(OutboundRefusedError);
    expect(dialled).not.toHaveBeenCalled();
  });

  it('gives up on a resolver that does not answer within the timeout', async () => {
    fakeDns.answers.set('hang.test', [null]);
    const request = outboundFetch('http://hang.test/', { timeoutMs: 50, policy: { allowPrivate: 'any' } });
    await expect(request).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(dialled).not.toHaveBeenCalled();
  });

  it('delivers to an allowed address and connects to the address it checked (no second resolution)', async () => {
    const internal = await receiver(undefined, '127.0.0.2');
    try {
      // The first answer passes the check; a second question would get the internal address (DNS rebinding).
      fakeDns.answers.set('rebind.test', [['127.0.0.1'], ['127.0.0.2']]);
      const response = await send(`http://rebind.test:${local.port}/hook?x=1`, LOOPBACK);
      expect(response.status).toBe(200);
      expect(local.requests.at(-1)).toMatchObject({ method: 'POST', url: '/hook?x=1', host: `rebind.test:${local.port}`, body: '{}' });
      expect(fakeDns.asked.get('rebind.test')).toBe(1);
      expect(internal.requests).toHaveLength(0);
      // Of several answers, only an allowed one is dialled.
      fakeDns.answers.set('mixed.test', [['10.0.0.1', '127.0.0.1']]);
      expect((await send(`http://mixed.test:${local.port}/`, LOOPBACK)).status).toBe(200);
      expect(dialled.mock.calls.map(([options]) => (options as http.RequestOptions).host)).toEqual(['127.0.0.1', '127.0.0.1']);
    } finally {
      await internal.close();
    }
  });

  it('follows no redirect, to a refused target or an allowed one', async () => {
    const refused = await receiver(undefined, '127.0.0.2');
    const allowed = await receiver();
    const redirecting = await receiver((req, res) => res.writeHead(req.url === '/a' ? 302 : 307, { location: req.url === '/a' ? refused.url : allowed.url }).end());
    try {
      const base = `http://127.0.0.1:${redirecting.port}`;
      expect((await send(`${base}/a`, LOOPBACK)).status).toBe(302);
      expect((await send(`${base}/b`, LOOPBACK)).status).toBe(307);
      expect(refused.requests).toHaveLength(0);
      expect(allowed.requests).toHaveLength(0);
    } finally {
      await Promise.all([refused.close(), allowed.close(), redirecting.close()]);
    }
  });
});

describe.each(databaseKinds())('callbacks on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind);
  });
  afterEach(() => t.callbacks.configure({ allowPrivate: [] }));
  afterAll(async () => {
    await t.close();
  });

  const CALLBACK = 'callbackUrl callbackSentAt callbackStatusCode callbackError';

  /** A batch run with `callbackUrl`, cancelled through GraphQL, once its callback outcome is recorded. */
  async function outcome(o: Tenant, callbackUrl: string) {
    const agent = (await t.gqlOk(o.apiKey, 'mutation { createAgent(input: { name: "a" }) { agent { id } } }')).createAgent.agent.id;
    const created = await t.gqlOk(o.apiKey, `mutation($input: CreateBatchRunInput!) { createBatchRun(input: $input) { batchRun { id } } }`, {
      input: { requests: [{ agentId: agent }], callbackUrl },
    });
    const id = created.createBatchRun.batchRun.id;
    await t.gqlOk(o.apiKey, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id });
    await t.callbacks.idle();
    const { batchRun } = await t.gqlOk(o.apiKey, `query($id: ID!) { batchRun(id: $id) { ${CALLBACK} } }`, { id });
    return batchRun;
  }

  it('refuses callbacks to loopback targets (and records only that) unless CALLBACK_ALLOW_PRIVATE allows them', async () => {
    const o = await t.tenant();
    t.callbacks.configure({ attempts: 2, baseDelayMs: 10, maxDelayMs: 20, timeoutMs: 500, allowPrivate: [] });
    const hook = await receiver();
    try {
      for (const url of [hook.url, `http://[::1]:${hook.port}/`, 'http://localhost:5432/', 'http://0.0.0.0:22/']) {
        expect(await outcome(o, url)).toMatchObject({ callbackSentAt: expect.any(String), callbackStatusCode: null, callbackError: CALLBACK_REFUSED });
      }
      expect(hook.requests).toHaveLength(0);
      expect(dialled).not.toHaveBeenCalled();

      t.callbacks.configure({ allowPrivate: LOOPBACK });
      expect(await outcome(o, hook.url)).toMatchObject({ callbackStatusCode: 200, callbackError: null });
      expect(hook.requests).toHaveLength(1);
      expect(JSON.parse(hook.requests[0].body)).toMatchObject({ status: 'cancelled', job_type: 'batch' });
    } finally {
      await hook.close();
    }
  });

  it('records the same failure whatever the allowed receiver did: error status, closed port, timeout or redirect', async () => {
    const o = await t.tenant();
    t.callbacks.configure({ attempts: 1, timeoutMs: 300, allowPrivate: LOOPBACK });
    const answering = await receiver((req, res) => {
      if (req.url === '/slow') return void setTimeout(() => res.writeHead(200).end(), 1000);
      if (req.url === '/redirect') return void res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
      res.writeHead(req.url === '/500' ? 500 : 404).end('ECONNREFUSED? no: a body from inside');
    });
    try {
      const base = `http://127.0.0.1:${answering.port}`;
      const outcomes = [];
      for (const url of [`${base}/500`, `${base}/404`, `${base}/slow`, `${base}/redirect`, `http://127.0.0.1:${await closedPort()}/`]) {
        outcomes.push(await outcome(o, url));
      }
      for (const recorded of outcomes) {
        expect(recorded).toMatchObject({ callbackSentAt: expect.any(String), callbackStatusCode: null, callbackError: CALLBACK_FAILED });
      }
      expect(answering.requests.map((r) => r.url)).toEqual(['/500', '/404', '/slow', '/redirect']);
    } finally {
      await answering.close();
    }
  });
});
