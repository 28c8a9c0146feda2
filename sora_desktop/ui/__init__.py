"""The PySide6 desktop studio. Widgets bind to view-models; the heavy work runs in QThreads.

Nothing here imports torch at module import time: the model loads after the window shows.
"""
