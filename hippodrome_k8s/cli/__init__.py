"""The ``hippodrome`` command line (click).  Errors are printed and mapped to exit codes in ``main``."""
