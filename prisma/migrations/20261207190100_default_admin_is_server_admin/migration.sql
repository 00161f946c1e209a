-- The default organization's first admin (the user of the key printed at first start, or of QUARRY_API_KEY) and
-- the keys made for it at setup (no minter) become the server admin: the role that administers every organization.
-- A migration of its own: a new enum value can be used only after the transaction that added it committed.
WITH admin AS (
  SELECT u.id FROM "User" u JOIN "Organization" o ON o.id = u."organizationId"
   WHERE o."isDefault" AND u.role = 'ADMIN'
   ORDER BY u."createdAt", u.id
   LIMIT 1
), promoted AS (
  UPDATE "User" u SET role = 'SERVER_ADMIN' FROM admin WHERE u.id = admin.id RETURNING u.id
)
UPDATE "ApiKey" k SET role = 'SERVER_ADMIN'
  FROM promoted WHERE k."userId" = promoted.id AND k.role = 'ADMIN' AND k."mintedById" IS NULL;
