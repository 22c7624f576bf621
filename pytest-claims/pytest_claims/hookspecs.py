"""Hooks that the claims plugin offers to other plugins and conftest files."""


def pytest_claims_environment(config):
    """Return a dict of fields for the report's "environment" (versions, device, seed, ...).

    Every implementation is called; later-registered plugins' fields override earlier ones,
    between the generic ``python`` and ``platform`` fields, which they may also override.
    """
