"""Pending human approvals of workflow runs, and deciding them."""
