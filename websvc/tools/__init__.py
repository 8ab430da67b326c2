"""Tools around the server, apart from the request path: explain, the Boomi importer, the playground.

Nothing in the core (``websvc`` minus this package and the CLI) imports them.
"""
