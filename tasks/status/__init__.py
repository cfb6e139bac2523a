"""Status: every migration's state, the join of the migrations on disk and the ledger rows."""
