/**
 * The PostgreSQL database of one test worker: DATABASE_URL's, with the worker's number added to its name. Test files
 * run in parallel (one per worker at a time); tests that count or sweep a whole database (recovery sweeps, "writes
 * nothing" counts) would see another file's rows in a database they shared. Made and migrated by global-setup.ts.
 */
export function workerDatabaseUrl(postgresUrl: string, worker: number): string {
  const url = new URL(postgresUrl);
  url.pathname = `${url.pathname}_w${worker}`;
  return url.toString();
}
