"""Helpers shared by the test tree, one module per kind: `errors` (what an error answer looks
like), `rooms` (rooms built through the in-process API), `sockets` (the events websocket of a
real server), `xmpp` (wschats with a private ejabberd, seen by XMPP clients).

Import from the module that defines a helper; this package re-exports nothing. Tools that the
benchmarks need as well (server processes, bulk population, the XMPP client) are in
`wschats.devtools`, since bench/ must not import tests/.
"""
