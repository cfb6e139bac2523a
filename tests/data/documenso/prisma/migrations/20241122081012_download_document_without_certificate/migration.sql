-- AlterTable
ALTER TABLE "TeamGlobalSettings" ADD COLUMN     "includeSigningCertificate" BOOLEAN NOT NULL DEFAULT true;
