"""Baseline pruners: one file per method, each registering itself in ``plantseek.prune.contract.PRUNERS``."""
