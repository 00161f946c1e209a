-- DropIndex
DROP INDEX "RunStep_organizationId_idx";

-- CreateIndex
CREATE INDEX "RunStep_organizationId_createdAt_id_idx" ON "RunStep"("organizationId", "createdAt", "id");
