"""Settings of the workers app, read from the environment; imported into lablog.settings."""

from lablog.env import envint, envstr, var_dir  # noqa: F401
