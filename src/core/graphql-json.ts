import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { exceedsDepth, JsonDepthError, parseJson } from './json.js';

/**
 * GraphQL over HTTP reads its JSON (bodies, and `variables`/`extensions` in a query string or a urlencoded body)
 * through core/json's capped parser instead of yoga's plain JSON.parse: a document nested deeper than JSON_MAX_DEPTH
 * is a 400 BAD_USER_INPUT before any value is built. Multipart requests are read in core/graphql-multipart, and
 * graphql-ws messages are checked with `variablesTooDeep`.
 */

function depthError(limit: number) {
  return createGraphQLError(new JsonDepthError(limit).message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
}

const badRequest = (message: string) => createGraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });

function parseOrThrow(text: string, maxDepth: number, what: string): unknown {
  try {
    return parseJson(text, maxDepth);
  } catch (error) {
    if (error instanceof JsonDepthError) throw depthError(maxDepth);
    throw badRequest(`${what} sent invalid JSON.`);
  }
}

function paramsFromSearch(search: URLSearchParams, maxDepth: number) {
  const variables = search.get('variables');
  const extensions = search.get('extensions');
  return {
    operationName: search.get('operationName') || undefined,
    query: search.get('query') || undefined,
    variables: variables ? (parseOrThrow(variables, maxDepth, 'variables') as Record<string, unknown>) : undefined,
    extensions: extensions ? (parseOrThrow(extensions, maxDepth, 'extensions') as Record<string, unknown>) : undefined,
  };
}

/** The media type of a request, as yoga matches it (the first of a list, without parameters). */
const mediaType = (request: Request) => (request.headers.get('content-type') ?? '').split(',')[0].split(';')[0].trim().toLowerCase();

/** Replaces yoga's JSON-reading request parsers (GET, POST JSON, POST urlencoded) with depth-capped ones. */
export function useJsonDepthLimit(maxDepth: number): Plugin {
  return {
    onRequestParse({ request, serverContext, setRequestParser }) {
      // A multipart request arrives already read (core/graphql-multipart, depth-capped there), uploads in place.
      if ((serverContext as { req?: { body?: unknown } } | undefined)?.req?.body !== undefined) return;
      const type = mediaType(request);
      if (request.method === 'GET') {
        setRequestParser((r) => paramsFromSearch(new URL(r.url).searchParams, maxDepth));
      } else if (request.method === 'POST' && (type === 'application/json' || type === 'application/graphql+json')) {
        setRequestParser(async (r) => {
          const body = parseOrThrow(await r.text(), maxDepth, 'POST body');
          if (body === null || typeof body !== 'object') throw badRequest(`POST body is expected to be object but received ${body === null ? 'null' : typeof body}`);
          return body as Record<string, unknown>;
        });
      } else if (request.method === 'POST' && type === 'application/x-www-form-urlencoded') {
        setRequestParser(async (r) => paramsFromSearch(new URLSearchParams(await r.text()), maxDepth));
      }
    },
  };
}

/**
 * For operations whose JSON a library parsed (graphql-ws `subscribe` payloads): whether they nest deeper than an
 * HTTP body may (the payload counts as the body, so its variables get the same room as over HTTP).
 */
export function paramsTooDeep(params: object, maxDepth: number): boolean {
  return exceedsDepth(params, maxDepth);
}
