-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "groupId" TEXT,
ADD COLUMN     "senderId" TEXT;
