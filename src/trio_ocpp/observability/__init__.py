"""Operating a central system: Prometheus metrics, OpenTelemetry traces, structured logs.

Each part is a module of its own with an optional dependency, imported only when asked for:
``trio_ocpp.observability.metrics`` needs ``trio-ocpp[metrics]`` (prometheus_client),
``trio_ocpp.observability.tracing`` needs ``trio-ocpp[tracing]`` (the OpenTelemetry API);
``trio_ocpp.observability.logs`` needs nothing. They see traffic through the public hooks:
:class:`trio_ocpp.Observer` and the cluster's call watchers.
"""

__all__: list[str] = []
