"""The HTTP server plumbing under the routes: what sits between the socket and the router.

The httptools protocol that bounds request heads, reading times and connections
(`bounded_httptools`), large bodies taken straight off the socket (`direct_body`), the ASGI
middlewares (path normalisation and trace ids in `middleware`, request logs and metrics in
`observability` and `metrics`, body and list limits in `limits`), and the preview answered
before routing (`preview_shortcut`). Routes never import from here but for the limits their
schemas and the authentication dependency apply.
"""
