"""The read-only web UI (``dmarcflow serve``) and the self-contained HTML report (``dmarcflow report --html``).

Both render the same Jinja2 templates (autoescaped) from the same library calls the CLI makes;
charts are SVG built on the server. Nothing here writes to the store or holds SQL.
"""
