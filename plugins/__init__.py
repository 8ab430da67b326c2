"""websvc's default plugin set, installed as ``websvc.plugins``.

Each module is an ordinary plugin for one step of the pipeline, registered
``trylast`` from :data:`websvc.manager.DEFAULT_PLUGINS` so that any other
plugin is asked first.
"""
