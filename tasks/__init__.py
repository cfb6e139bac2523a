"""The work: plain logic (parsing, planning, classifying) and the Prefect tasks that do I/O."""
