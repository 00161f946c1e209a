import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { SpanKind } from '@opentelemetry/api';
import ipaddr from 'ipaddr.js';
import { inSpan, traceHeaders } from './tracing.js';

/**
 * The one way Quarry makes HTTP requests to other servers (callbacks, embedding providers, any later webhook or
 * URL fetch). Each request:
 *
 * - resolves the host once and checks every address it may use: only public unicast addresses are allowed
 *   (never loopback, private, link-local — cloud metadata at 169.254.169.254 included —, unique-local, multicast,
 *   broadcast, unspecified, carrier-grade NAT, reserved or documentation ranges, nor IPv6 forms that embed an IPv4
 *   address), unless the policy's allow-list names the address's range;
 * - connects to the checked address itself (the URL's host name only goes into the Host header and TLS SNI), so
 *   a DNS answer that changes between the check and the connection (DNS rebinding) cannot redirect it;
 * - never follows redirects: a 3xx is handed back as it is;
 * - ends after `timeoutMs`, whatever stage it is at (connecting, waiting for headers, reading the body).
 *
 * Range classification is ipaddr.js's.
 */

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Address ranges a request may reach although they are not public. */
export type AddressAllowList = readonly (readonly [Address, number])[];

/** Who chose the target decides what it may reach. */
export interface OutboundPolicy {
  /**
   * `'any'` only for URLs the operator configured (an embedding provider's base URL, which may well be
   * localhost); a list (often empty) for anything a client chose.
   */
  allowPrivate: 'any' | AddressAllowList;
}

/** The target is not allowed: its address is refused by the policy, or its host does not resolve at all. */
export class OutboundRefusedError extends Error {
  override name = 'OutboundRefusedError';
}

/**
 * Parses an allow-list: addresses or CIDR ranges (`127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`), separated by
 * commas or spaces. Throws an Error naming the first entry that is neither.
 */
export function parseAllowList(text: string): AddressAllowList {
  const entries = text.split(/[\s,]+/).filter(Boolean);
  return entries.map((entry) => {
    try {
      if (entry.includes('/')) return ipaddr.parseCIDR(entry);
      const address = ipaddr.parse(entry);
      return [address, address.kind() === 'ipv4' ? 32 : 128] as const;
    } catch {
      throw new Error(`"${entry}" is not an IP address or CIDR range (e.g. 127.0.0.1, 10.0.0.0/8, ::1)`);
    }
  });
}

/** Why an address may not be reached under `allowPrivate`, or null when it may. */
export function refusedRange(address: string, allowPrivate: OutboundPolicy['allowPrivate']): string | null {
  if (allowPrivate === 'any') return null;
  let parsed: Address;
  try {
    // process() turns IPv4-mapped IPv6 (::ffff:127.0.0.1) into the IPv4 address it stands for.
    parsed = ipaddr.process(address);
  } catch {
    return 'invalid';
  }
  if (allowPrivate.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits))) return null;
  const range = parsed.range();
  return range === 'unicast' ? null : range;
}

/** The addresses a URL's host stands for, in the resolver's order. */
async function resolve(hostname: string): Promise<string[]> {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (isIP(host)) return [host];
  try {
    return (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A name that does not exist is refused like a private one, so the outcome does not tell which internal
    // names exist; a resolver that failed for a while is a plain (retryable) failure.
    if (code === 'ENOTFOUND' || code === 'ENODATA') throw new OutboundRefusedError(`${host} does not resolve`);
    throw error;
  }
}

/** Rejects with the signal's reason once it aborts. */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

export interface OutboundRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Ends the request early (shutdown, the caller's own deadline); the timeout applies anyway. */
  signal?: AbortSignal;
  /** For the whole exchange: connecting, the response's headers and reading its body. */
  timeoutMs: number;
  policy: OutboundPolicy;
}

/** Statuses whose responses have no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * Sends one request under the policy and returns the response as a fetch Response (body not yet read).
 * Throws OutboundRefusedError before any connection when the target is not allowed; network failures and
 * timeouts throw as fetch's do (the timeout as a DOMException named TimeoutError).
 */
export async function outboundFetch(target: string | URL, request: OutboundRequest): Promise<Response> {
  const url = new URL(target);
  const method = request.method ?? 'GET';
  // A client span per request (a no-op without tracing, core/tracing.ts), its trace passed on in `traceparent`.
  return inSpan(method, SpanKind.CLIENT, { 'http.request.method': method, 'server.address': url.hostname, 'url.path': url.pathname }, async (span) => {
    const response = await send(url, { ...request, headers: { ...request.headers, ...traceHeaders() } });
    span.setAttribute('http.response.status_code', response.status);
    return response;
  });
}

async function send(url: URL, request: OutboundRequest): Promise<Response> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundRefusedError(`${url.protocol} URLs are not fetched`);
  if (url.username || url.password) throw new OutboundRefusedError('URLs with credentials are not fetched');
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  signal.throwIfAborted();

  // getaddrinfo cannot be cancelled, but the caller need not wait for it past the timeout.
  const addresses = await Promise.race([resolve(url.hostname), aborted(signal)]);
  const address = addresses.find((a) => refusedRange(a, request.policy.allowPrivate) === null);
  if (!address) {
    const ranges = [...new Set(addresses.map((a) => refusedRange(a, request.policy.allowPrivate)))];
    throw new OutboundRefusedError(`${url.hostname} resolves only to refused addresses (${ranges.join(', ')})`);
  }

  const secure = url.protocol === 'https:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  return new Promise<Response>((resolvePromise, reject) => {
    const options: https.RequestOptions = {
      // The checked address, not the name: nothing is resolved again between the check and the connection.
      host: address,
      port: url.port || (secure ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method: request.method ?? 'GET',
      headers: { ...request.headers, host: url.host, ...(body && { 'content-length': String(body.length) }) },
      // TLS checks the certificate against the URL's host name (SNI cannot carry an IP address).
      ...(secure && !isIP(host) && { servername: host }),
      agent: false,
      signal,
    };
    const req = (secure ? https : http).request(options, (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 599) {
        res.destroy();
        reject(new Error(`invalid HTTP status ${status}`));
        return;
      }
      const headers = new Headers();
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
        try {
          headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        } catch {
          // A header fetch would not accept either: left out.
        }
      }
      if (NULL_BODY.has(status)) res.resume();
      const stream = NULL_BODY.has(status) ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
      resolvePromise(new Response(stream, { status, statusText: res.statusMessage, headers }));
    });
    req.on('error', (error) => reject(signal.aborted ? signal.reason : error));
    req.end(body);
  });
}
