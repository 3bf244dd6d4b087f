"""The sans-I/O core: OCPP-J without any I/O.

Frames, versions, JSON, the bundled schemas and their dialect, validation, casing, the payload
runtime, routes, identity rules, negotiation, Basic-auth parsing, the password throttle and log
safety. Pure functions and objects the callers drive (the time is passed in, never read from a
clock): nothing here imports trio, trio-websocket or any other layer of the package, and
``tests/scenarios/test_layers.py`` checks it.
"""
