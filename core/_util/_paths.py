"""Where the project caches MNIST and results between runs."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "gradnorm-sensing-claims"


def cache_root() -> Path:
    """The user cache directory of the project (platformdirs: $XDG_CACHE_HOME or ~/.cache on Linux)."""
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
