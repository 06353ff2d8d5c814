"""system_logs."""
