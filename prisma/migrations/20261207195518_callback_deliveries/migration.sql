-- CreateEnum
CREATE TYPE "CallbackStatus" AS ENUM ('PENDING', 'DELIVERED', 'REFUSED', 'FAILED');

-- CreateTable
CREATE TABLE "CallbackDelivery" (
    "id" TEXT NOT NULL DEFAULT ('callback-'::text || gen_random_uuid()),
    "organizationId" TEXT NOT NULL,
    "jobId" TEXT,
    "url" TEXT NOT NULL,
    "snapshot" JSONB NOT NULL,
    "status" "CallbackStatus" NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastAttemptAt" TIMESTAMPTZ(6),
    "lastError" TEXT,
    "lastStatusCode" INTEGER,
    "lockedBy" TEXT,
    "lockedUntil" TIMESTAMPTZ(6),
    "createdAt" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "CallbackDelivery_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "CallbackDelivery_status_nextAttemptAt_idx" ON "CallbackDelivery"("status", "nextAttemptAt");

-- CreateIndex
CREATE INDEX "CallbackDelivery_jobId_idx" ON "CallbackDelivery"("jobId");

-- CreateIndex
CREATE INDEX "CallbackDelivery_organizationId_idx" ON "CallbackDelivery"("organizationId");

-- AddForeignKey
ALTER TABLE "CallbackDelivery" ADD CONSTRAINT "CallbackDelivery_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CallbackDelivery" ADD CONSTRAINT "CallbackDelivery_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "Job"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- A job with a callback URL that ends gets its delivery row in the same transaction, whichever code ended it
-- (a worker, a cancel, a sweep): a crash right after the commit cannot lose it. The row holds the job as it ended.
CREATE FUNCTION "quarry_job_callback"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "CallbackDelivery" ("organizationId", "jobId", "url", "snapshot")
  VALUES (NEW."organizationId", NEW."id", NEW."callbackUrl", to_jsonb(NEW));
  RETURN NULL;
END
$$;

CREATE TRIGGER "Job_callback" AFTER UPDATE OF "status" ON "Job"
  FOR EACH ROW
  WHEN (NEW."callbackUrl" IS NOT NULL
        AND NEW."status" IN ('COMPLETED', 'FAILED', 'CANCELLED', 'EXPIRED')
        AND OLD."status" NOT IN ('COMPLETED', 'FAILED', 'CANCELLED', 'EXPIRED'))
  EXECUTE FUNCTION "quarry_job_callback"();
