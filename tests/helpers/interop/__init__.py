"""Peers for the interop tests (scripts run in subprocesses) and the helper that runs them."""
