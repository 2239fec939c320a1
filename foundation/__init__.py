"""The leaf every Knoten package may use: small, dependency-free building blocks.

``knoten``, ``schedules``, ``streaming`` and ``recordings`` may all import from here; this package
imports none of them (only the standard library and third-party libraries), so it can never close
an import cycle or carry one package's concepts into another. Keep it to mechanisms several
packages need (a clock, an SQL column type, secret files, signed tokens), never domain rules.
"""
