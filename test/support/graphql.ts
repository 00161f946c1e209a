/**
 * A GraphQL request to a running server (a process or a listening app) over real HTTP, with an API key: its `data`,
 * or an error carrying the response's `errors` (for tests that expect success).
 */
export async function gqlOver(url: string, key: string, query: string, variables?: object) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}
