"""The charge point's side: ``connect`` and the reconnecting ``Client``. Imports the layers below
it, never the server.
"""
