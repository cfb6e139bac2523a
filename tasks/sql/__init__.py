"""SQL text handling on PostgreSQL's own parser (pglast): statements, spans, transactionality."""
