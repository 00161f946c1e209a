-- CreateEnum
CREATE TYPE "PassageSetState" AS ENUM ('STAGED', 'LIVE', 'RETIRED');

-- DropIndex
DROP INDEX "FileContent_fileId_key";

-- DropIndex
DROP INDEX "Passage_fileId_chunkIndex_key";


-- CreateTable
CREATE TABLE "PassageSet" (
    "id" TEXT NOT NULL DEFAULT ('pset-'::text || gen_random_uuid()),
    "organizationId" TEXT NOT NULL,
    "fileId" TEXT NOT NULL,
    "jobId" TEXT,
    "state" "PassageSetState" NOT NULL DEFAULT 'STAGED',
    "storedChunks" INTEGER NOT NULL DEFAULT 0,
    "storedTexts" INTEGER NOT NULL DEFAULT 0,
    "storedChars" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "PassageSet_pkey" PRIMARY KEY ("id")
);

-- Existing data: every file that has passages or text gets one LIVE set holding them (hand-written).
ALTER TABLE "FileContent" ADD COLUMN "seq" INTEGER NOT NULL DEFAULT 0, ADD COLUMN "setId" TEXT;
ALTER TABLE "Passage" ADD COLUMN "setId" TEXT;
INSERT INTO "PassageSet" ("organizationId", "fileId", "state", "storedChunks", "storedTexts", "storedChars", "updatedAt")
SELECT f."organizationId", f.id, 'LIVE',
       (SELECT count(*) FROM "Passage" p WHERE p."fileId" = f.id),
       (SELECT count(*) FROM "FileContent" c WHERE c."fileId" = f.id),
       coalesce((SELECT length(c.text) FROM "FileContent" c WHERE c."fileId" = f.id), 0),
       now()
  FROM "File" f
 WHERE EXISTS (SELECT 1 FROM "Passage" p WHERE p."fileId" = f.id) OR EXISTS (SELECT 1 FROM "FileContent" c WHERE c."fileId" = f.id);
UPDATE "Passage" p SET "setId" = s.id FROM "PassageSet" s WHERE s."fileId" = p."fileId";
UPDATE "FileContent" c SET "setId" = s.id FROM "PassageSet" s WHERE s."fileId" = c."fileId";
ALTER TABLE "FileContent" ALTER COLUMN "setId" SET NOT NULL, ALTER COLUMN "seq" DROP DEFAULT;

-- CreateIndex
CREATE INDEX "PassageSet_fileId_state_idx" ON "PassageSet"("fileId", "state");

-- CreateIndex
CREATE INDEX "PassageSet_jobId_idx" ON "PassageSet"("jobId");

-- CreateIndex
CREATE INDEX "PassageSet_state_idx" ON "PassageSet"("state");

-- CreateIndex
CREATE INDEX "FileContent_fileId_idx" ON "FileContent"("fileId");

-- CreateIndex
CREATE UNIQUE INDEX "FileContent_setId_seq_key" ON "FileContent"("setId", "seq");

-- CreateIndex
CREATE INDEX "Passage_fileId_chunkIndex_idx" ON "Passage"("fileId", "chunkIndex");

-- CreateIndex
CREATE UNIQUE INDEX "Passage_setId_chunkIndex_key" ON "Passage"("setId", "chunkIndex");

-- AddForeignKey
ALTER TABLE "FileContent" ADD CONSTRAINT "FileContent_setId_fkey" FOREIGN KEY ("setId") REFERENCES "PassageSet"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PassageSet" ADD CONSTRAINT "PassageSet_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PassageSet" ADD CONSTRAINT "PassageSet_fileId_fkey" FOREIGN KEY ("fileId") REFERENCES "File"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Passage" ADD CONSTRAINT "Passage_setId_fkey" FOREIGN KEY ("setId") REFERENCES "PassageSet"("id") ON DELETE CASCADE ON UPDATE CASCADE;
