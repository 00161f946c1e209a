-- AlterTable
ALTER TABLE "File" ADD COLUMN     "replacesFileId" TEXT;

-- AddForeignKey
ALTER TABLE "File" ADD CONSTRAINT "File_replacesFileId_fkey" FOREIGN KEY ("replacesFileId") REFERENCES "File"("id") ON DELETE SET NULL ON UPDATE CASCADE;
