import type { IncomingMessage } from 'node:http';
import { BlockList, isIP, isIPv6 } from 'node:net';
import type { Plugin } from 'graphql-yoga';
import { displayPrefix, keyFromHeaders, type Actor, type Authenticator } from './auth.js';
import type { AuthThrottle } from './auth-throttle.js';
import { AppError, unauthenticated } from './errors.js';
import type { Logger } from './logger.js';

/**
 * The one door every authenticated request goes through — GraphQL over HTTP and SSE (a yoga plugin that runs
 * before the body is read), multipart uploads (before they are streamed to disk), the REST shim (before its
 * body) and graphql-ws (at connection_init). Without a valid key nothing else happens: no body is read, no
 * document parsed or validated, so an anonymous caller learns nothing about the schema and cannot hold the
 * server with a slow body. Failed attempts are throttled (auth-throttle.ts).
 */

export type GateOutcome = { actor: Actor } | { refusal: AppError; headers: Record<string, string> };

export class AuthGate {
  /** Actors of requests that passed, for the request's context (a Request or an IncomingMessage). */
  private readonly passed = new WeakMap<object, Actor>();
  private readonly proxies: BlockList;

  constructor(
    private readonly authenticator: Authenticator,
    private readonly throttle: AuthThrottle,
    /** TRUSTED_PROXIES: addresses or CIDR ranges whose X-Forwarded-For names the client. */
    trustedProxies: readonly string[] = [],
  ) {
    this.proxies = proxyList(trustedProxies);
  }

  /** The client's address, for throttling (see clientAddress). */
  addressOf(req: IncomingMessage | undefined): string {
    return clientAddress(req, this.proxies);
  }

  /** Authenticates a key presented from `address`: the actor, or the refusal to answer (401 or 429). */
  async check(key: string | null, address: string): Promise<GateOutcome> {
    if (!key) return unauthenticatedOutcome();
    // A key known to be valid is never held up by others' failures from the same address.
    const known = this.authenticator.cached(key);
    if (known) return { actor: known };
    const prefix = displayPrefix(key);
    const blocked = await this.throttle.blocked(address, prefix);
    if (blocked) return throttledOutcome(blocked.retryAfterS);
    const actor = await this.authenticator.authenticate(key);
    if (actor) return { actor };
    const over = await this.throttle.failed(address, prefix);
    return over ? throttledOutcome(over.retryAfterS) : unauthenticatedOutcome();
  }

  /** `check` for a request's headers, remembering the actor for `actorOf(holder)`. */
  async checkRequest(holder: object, get: (name: string) => string | null | undefined, address: string): Promise<GateOutcome> {
    const known = this.passed.get(holder);
    if (known) return { actor: known };
    const outcome = await this.check(keyFromHeaders(get), address);
    if ('actor' in outcome) this.passed.set(holder, outcome.actor);
    return outcome;
  }

  /** The actor of a request that passed `checkRequest`. */
  actorOf(holder: object): Actor | undefined {
    return this.passed.get(holder);
  }

  /** Marks `to` as authenticated as `from` was (the same HTTP request seen as Node's message and as a fetch Request). */
  carry(from: object, to: object): void {
    const actor = this.passed.get(from);
    if (actor) this.passed.set(to, actor);
  }
}

function unauthenticatedOutcome(): GateOutcome {
  return { refusal: unauthenticated(), headers: { 'www-authenticate': 'Bearer' } };
}

function throttledOutcome(retryAfterS: number): GateOutcome {
  return {
    refusal: new AppError('RATE_LIMITED', `Too many failed authentication attempts; try again in ${retryAfterS} s`, { retryAfter: retryAfterS }),
    headers: { 'retry-after': String(retryAfterS) },
  };
}

/** A list of addresses and CIDR ranges (validated by the configuration) as a BlockList. */
export function proxyList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

const unmapped = (address: string) => /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] ?? address;

/**
 * Who is knocking, for throttling: the peer's address, or, when the peer is a trusted proxy, the last address
 * in X-Forwarded-For that is not one (what a client puts further left is not believed). IPv4-mapped IPv6 counts
 * as IPv4, IPv6 by its /64 (which one host usually holds whole). In-process requests share one name.
 */
export function clientAddress(req: Pick<IncomingMessage, 'socket' | 'headers'> | undefined, proxies?: BlockList): string {
  const peer = req?.socket?.remoteAddress;
  if (!peer) return 'in-process';
  let address = unmapped(peer);
  const trusted = (a: string) => {
    const family = isIP(a);
    return family !== 0 && proxies !== undefined && proxies.check(a, family === 6 ? 'ipv6' : 'ipv4');
  };
  const forwarded = req.headers?.['x-forwarded-for'];
  if (forwarded && trusted(address)) {
    const hops = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded).split(',').map((h) => unmapped(h.trim()));
    while (trusted(address) && hops.length) {
      const next = hops.pop()!;
      if (isIP(next) === 0) break; // not an address: stop at the last proxy we trust
      address = next;
    }
  }
  return normalized(address);
}

function normalized(address: string): string {
  if (!isIPv6(address)) return address;
  const [head, tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * The gate for yoga: runs in onRequest, before yoga's request parsers read the body. A refused request is
 * answered at once with `Connection: close`, its body left unread; a passing one keeps its actor for the context.
 */
export function useAuthGate(gate: AuthGate, log: Logger): Plugin<Record<string, never>, { req?: IncomingMessage }> {
  return {
    async onRequest({ request, serverContext, endResponse, fetchAPI }) {
      const req = serverContext?.req;
      if (req) gate.carry(req, request);
      let refusal: AppError;
      let headers: Record<string, string> = {};
      try {
        const outcome = await gate.checkRequest(request, (name) => request.headers.get(name), gate.addressOf(req));
        if ('actor' in outcome) return;
        ({ refusal, headers } = outcome);
      } catch (error) {
        // The key could not be checked (database unreachable): nothing of the cause reaches the client.
        log.error({ err: error }, 'authentication failed');
        refusal = new AppError('INTERNAL', 'Unexpected error.');
      }
      endResponse(
        new fetchAPI.Response(JSON.stringify(graphqlRefusalBody(refusal)), {
          status: refusal.httpStatus,
          headers: { 'content-type': 'application/json; charset=utf-8', connection: 'close', ...headers },
        }),
      );
    },
  };
}

/** What graphql-ws's connection handling needs of the socket: closing it with a code. */
interface ClosableSocket {
  close(code: number, reason: string): void;
}

/**
 * graphql-ws's connection_init: the actor, or null after closing the socket with what the client should know —
 * 4429 when throttled, 4500 when the key could not be checked; for a refused key the caller returns false and
 * graphql-ws closes with 4403 (a second close is ignored, the first code wins).
 */
export async function authenticateSocket(gate: AuthGate, key: string | null, request: IncomingMessage, socket: ClosableSocket, log: Logger): Promise<Actor | null> {
  let outcome: GateOutcome;
  try {
    outcome = await gate.check(key, gate.addressOf(request));
  } catch (error) {
    log.error({ err: error }, 'authentication failed');
    socket.close(4500, 'Internal server error'); // not the cause: it stays in the log
    return null;
  }
  if ('actor' in outcome) return outcome.actor;
  if (outcome.refusal.code === 'RATE_LIMITED') {
    socket.close(4429, `Too many failed authentication attempts; retry after ${outcome.headers['retry-after']} s`);
  }
  return null;
}

/** A refusal as a GraphQL response body: `errors` with the code (and the retry delay), no `data`. */
export function graphqlRefusalBody(refusal: AppError) {
  return { errors: [{ message: refusal.message, extensions: { code: refusal.code, ...refusal.details } }] };
}
