"""A team's own stack, drilled through its target file (``targets/NAME.yaml``, chosen with ``--target NAME``)."""
