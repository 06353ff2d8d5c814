"""Pure engines: no FastAPI, no database sessions. They reach the world through Protocols."""
