"""The kopf operator that reconciles HippodromeStack custom resources.

The folder is ``operator/`` (the design card's name); the import name is
``hippodrome_operator`` because ``operator`` would shadow the standard library.
"""
