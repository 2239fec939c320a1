"""Recording archive: catalog, finalization, probing, retention and download."""
