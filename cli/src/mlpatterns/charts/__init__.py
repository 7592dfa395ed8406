"""The kit's Helm charts: rendering and linting them, and keeping their generated parts in sync."""
