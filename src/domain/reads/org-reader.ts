import type { SqlReader, Statement } from '../../core/db/reader.js';
import { Prisma } from '../../generated/prisma/client.js';

/**
 * The organization filter of a read: `org('s')` is `s."organizationId" = <the reader's organization>`. The only
 * way a statement gets one, so a reader can tell whether a statement applied it.
 */
export type OrgFilter = (alias: string) => Prisma.Sql;

/**
 * Raw reads bound to one organization: the compiled nested reads (one JSON-aggregated statement per list and
 * everything selected beneath it) go through here, and nowhere else. A statement is built from the organization
 * filter the reader hands it, and one that never applies it is refused before it reaches the database, so a read
 * that forgets tenancy fails loudly in every test instead of leaking rows.
 */
export class OrgReader {
  constructor(
    private readonly sql: SqlReader,
    readonly organizationId: string,
  ) {}

  async query<T>(build: (org: OrgFilter) => Prisma.Sql): Promise<T[]> {
    let applied = 0;
    const org: OrgFilter = (alias) => {
      applied++;
      return Prisma.sql`${Prisma.raw(alias)}."organizationId" = ${this.organizationId}`;
    };
    const statement = build(org);
    if (!applied) throw new Error('Refused: a read statement without the organization filter');
    return this.sql.query<T>(statement);
  }

  /**
   * A read of PostgreSQL's own statistics (pg_stats), which hold no organization's rows: refused if it names one
   * of Quarry's tables as a table (a quoted identifier), so it cannot become a way around the filter.
   */
  async statistics<T>(statement: Statement): Promise<T[]> {
    if (/"[A-Z]/.test(statement.text)) throw new Error('Refused: a statistics read that names a table');
    return this.sql.query<T>(statement);
  }

  /** Identifies the database read (caches of figures per database key on it, e.g. passage-search's). Not a reader. */
  get database(): object {
    return this.sql;
  }
}
