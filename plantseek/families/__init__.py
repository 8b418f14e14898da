"""Host families, one folder each: a family's network, planting, task base, audit, extra metrics and report section.

A module's file name says the stage it belongs to (``network`` -> nets, ``planting``/``task``/``audit``/``scales`` ->
planted, ``metrics`` -> score, ``report``/``plots`` -> report); each folder's ``__init__`` declares the family's
:class:`~plantseek.families.registry.HostFamily` (``FAMILY``), found by :data:`~plantseek.families.registry.FAMILIES`.
Torch-free: listing families imports only the folders' ``__init__`` modules.
"""
