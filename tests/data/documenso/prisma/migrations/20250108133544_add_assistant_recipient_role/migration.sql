-- AlterEnum
ALTER TYPE "RecipientRole" ADD VALUE 'ASSISTANT';
