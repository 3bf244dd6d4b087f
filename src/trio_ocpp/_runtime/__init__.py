"""The connection runtime: a ChargePoint per connection, one nursery holding its reader, handler
tasks and hooks; inbound CALLs, outbound calls, keep-alive and the watchdog. Imports the core and
the transport.
"""
