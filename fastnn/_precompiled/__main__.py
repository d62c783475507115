"""``python -m fastnn._precompiled``: rebuild the archive of each level this CPU can run."""

from . import build

build()
