"""trio-ocpp's benchmarks, side by side with the ``ocpp`` package: ``python -m benchmarks``."""
