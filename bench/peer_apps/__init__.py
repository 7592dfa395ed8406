"""The servers a user would pick instead of ours, each run from a venv of its own (bench/peers.py)."""
