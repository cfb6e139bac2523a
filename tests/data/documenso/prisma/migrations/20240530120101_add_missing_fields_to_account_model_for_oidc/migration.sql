-- AlterTable
ALTER TABLE "Account" ADD COLUMN     "created_at" INTEGER,
ADD COLUMN     "ext_expires_in" INTEGER;
