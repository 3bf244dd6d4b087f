"""The connection runtime: a ChargePoint per connection, one nursery holding its reader, handler
tasks and hooks. Imports the core and the transport.

``charge_point`` (the ChargePoint: the connection's life and the reader) is composed of parts,
each a module: ``inbound`` (the peer's CALLs and SENDs), ``outbound`` (our calls and SENDs),
``link`` (frames out, keep-alive, the send timeout), ``conduct`` (the peer's counters and invalid
frames); ``watchdog`` wakes the links of a server.
"""
