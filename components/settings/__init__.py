"""Stack configuration → typed, validated settings, one module per concern.

``parse`` (parse_settings, load_settings) reads the whole config with ``stack_config``
(namespace, PULUMI_CONFIG), ``clients``, ``credentials``, ``adoption`` and ``provisioning_app``,
collecting every problem with ``problems`` into one SettingsError; ``model`` holds the typed
settings they build.  Import each name from the module that holds it: this file re-exports nothing.
"""
