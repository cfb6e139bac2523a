-- AlterTable
ALTER TABLE "TemplateMeta" ADD COLUMN     "allowDictateNextSigner" BOOLEAN NOT NULL DEFAULT false;
