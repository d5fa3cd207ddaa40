"""The JSON sink: snapshot files, the state file and the change journal in the data directory."""
