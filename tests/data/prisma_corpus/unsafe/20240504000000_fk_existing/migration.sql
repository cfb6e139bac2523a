-- expect: constraint-missing-not-valid, require-concurrent-index-creation
-- AlterTable
ALTER TABLE "Post" ADD COLUMN     "editorId" INTEGER;

-- CreateIndex
CREATE INDEX "Post_editorId_idx" ON "Post"("editorId");

-- AddForeignKey
ALTER TABLE "Post" ADD CONSTRAINT "Post_editorId_fkey" FOREIGN KEY ("editorId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;
