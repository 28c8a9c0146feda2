"""Sora Desktop: a local, offline text-to-video studio."""

__version__ = "0.1.0"
