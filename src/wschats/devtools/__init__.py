"""Tools to run and drive a real wschats from outside, shared by tests/ and bench/ (neither may
import the other, see architecture.md#tests-and-benchmarks). The server never imports them.

`servers` starts `wschats serve` on a free port and writes users with tokens into its database,
`app` starts an app in-process with adapter overrides (`running_app`), `ejabberd` runs a
private ejabberd (scripts/ejabberd.sh of the source tree), `populate` fills a database in bulk,
`xmpp_client` is an XMPP client that records what it receives, `chromium` names the browser
the web client is driven in. Some need the `test` extra (psycopg, slixmpp).
"""
