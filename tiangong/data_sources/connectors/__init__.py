"""One module per kind of source; each answers `test` and `query` for a `Source`."""
