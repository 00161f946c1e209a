import type { GraphiQLOptions } from 'graphql-yoga';

/**
 * GraphiQL as yoga serves it on `GET /graphql`, but built from the installed @graphql-yoga/render-graphiql package
 * (its script, styles and editor workers inlined in the page) instead of yoga's default page, which loads them
 * from unpkg.com and stays blank on a machine without internet. The package (about 9 MB of JavaScript) is loaded
 * on the first request for the page, not at start-up, and the page is rendered once.
 */
export const graphiqlOptions: GraphiQLOptions = {
  title: 'Quarry',
  // The API key header, prefilled for the user to complete.
  headers: JSON.stringify({ Authorization: 'Bearer <your API key>' }),
};

let page: Promise<string> | undefined;

export function renderOfflineGraphiQL(options: GraphiQLOptions): Promise<string> {
  page ??= import('@graphql-yoga/render-graphiql').then(({ renderGraphiQL }) => renderGraphiQL(options));
  page.catch(() => (page = undefined)); // a failed load is tried again on the next request
  return page;
}
