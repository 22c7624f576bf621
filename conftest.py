"""Loads the harness for every test: this project's options and, through it, the generic claims plugin."""

pytest_plugins = ["claims._plugin", "pytester"]
