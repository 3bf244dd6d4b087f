"""Runnable examples: ``python -m trio_ocpp`` (central system) and
``python -m trio_ocpp.examples.charge_point`` (a charge point client)."""
