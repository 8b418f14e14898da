"""Baseline pruners: one file per method, each registering itself in ``plantseek.pruners.PRUNERS``."""
