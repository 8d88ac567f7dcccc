"""The ``memex`` command line: :mod:`.quick` is its entry point, :mod:`.main` the full parser
and commands (imported only when a call needs them)."""
