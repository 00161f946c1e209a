import { defineConfig } from 'prisma/config';

// Prisma 7 keeps the datasource URL here. Quarry applies migrations with its own runner (npm run db:migrate),
// which works offline; on a machine with Prisma's native engine `prisma migrate deploy` uses the same folder.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/quarry' },
});
