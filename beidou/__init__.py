"""The ``beidou`` command: one entry point whose subcommands live in the layer they belong to."""
