"""Shared foundations: errors, registries, seeding, file paths and atomic writes, plug-in discovery."""
