"""The PostgreSQL sink: a table per model in one schema, one transaction per pass."""
