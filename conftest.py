"""Loads the harness plugin (options --seed, --device, --mnist-root, --claims-report) for every test."""

pytest_plugins = ["claims._plugin"]
