"""Watching a running pattern from the terminal: `mlpatterns watch` (a live view) and
`mlpatterns report` (a PNG), both on the dashboards' own queries (monitoring/panels.py)."""
