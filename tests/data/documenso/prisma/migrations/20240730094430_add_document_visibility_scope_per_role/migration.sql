-- AlterTable
ALTER TABLE "Document" ADD COLUMN     "visibility" TEXT;
