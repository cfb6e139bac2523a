-- expect: enum-value-used-in-same-transaction
-- AlterEnum
ALTER TYPE "Role" ADD VALUE 'OWNER';

-- Backfill
UPDATE "User" SET "role" = 'OWNER' WHERE "email" = 'founder@example.com';
