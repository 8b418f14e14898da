"""Performance measurements (``python -m plantseek bench``)."""
