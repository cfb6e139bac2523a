-- AlterTable
ALTER TABLE "Recipient" ADD COLUMN     "signingOrder" INTEGER;
