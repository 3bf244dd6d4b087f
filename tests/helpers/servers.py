"""The test kit's real server on a free port (``trio_ocpp.testing.serving``), under the name
the suite's tests import it by."""

from trio_ocpp.testing import running, serving

__all__ = ["running", "serving"]
