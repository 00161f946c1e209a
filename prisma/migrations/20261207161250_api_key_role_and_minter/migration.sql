-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "mintedById" TEXT,
ADD COLUMN     "role" "UserRole" NOT NULL DEFAULT 'MEMBER';

-- CreateIndex
CREATE INDEX "ApiKey_mintedById_idx" ON "ApiKey"("mintedById");

-- AddForeignKey
ALTER TABLE "ApiKey" ADD CONSTRAINT "ApiKey_mintedById_fkey" FOREIGN KEY ("mintedById") REFERENCES "ApiKey"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- Keys made before roles existed keep what they could do: their user's role.
UPDATE "ApiKey" k SET "role" = u."role" FROM "User" u WHERE u."id" = k."userId";
