"""Runnable-entry job tasks (queue `gpu` and friends)."""
