"""The WebSocket transport: our connection on websockets' sans-I/O protocol, both opening
handshakes, TLS contexts and client certificates, the receive budget, and the adapters that let
a ChargePoint run on a connection made by trio-websocket or websockets.trio, and a bare echo
(the benchmarks' ceiling, Autobahn's peer). Imports the core.
"""
