-- CreateIndex (alone in its migration: CONCURRENTLY cannot run in a transaction)
CREATE INDEX CONCURRENTLY IF NOT EXISTS "Post_slug_idx" ON "Post"("slug");
