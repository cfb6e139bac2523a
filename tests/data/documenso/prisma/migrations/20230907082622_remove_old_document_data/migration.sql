/*
  Warnings:

  - You are about to drop the column `document` on the `Document` table. All the data in the column will be lost.

*/
-- AlterTable
ALTER TABLE "Document" DROP COLUMN "document";
