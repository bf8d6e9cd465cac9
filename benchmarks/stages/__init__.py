"""One module per benchmark stage: ``measure(run)`` in the runner, ``child_*`` in measured processes."""
