-- AlterTable
ALTER TABLE "Organization" ADD COLUMN     "isDefault" BOOLEAN NOT NULL DEFAULT false;

-- CreateIndex
CREATE UNIQUE INDEX "Organization_isDefault_key" ON "Organization"("isDefault") WHERE ("isDefault" = true);

-- The default organization used to be found by a fixed id, the same in every install; it is now marked instead
-- (new installs get a random id). An install created before keeps its organization, found by the mark.
UPDATE "Organization" SET "isDefault" = true WHERE "id" = 'org-00000000-0000-4000-8000-000000000000';
