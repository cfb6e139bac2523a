-- expect: require-concurrent-index-creation
-- CreateIndex
CREATE INDEX "Post_title_idx" ON "Post"("title");
