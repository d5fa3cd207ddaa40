"""The SQLite sink: one database file, a table per model, the state and journal beside them."""
