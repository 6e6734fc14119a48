"""Developer tools that check the codebase itself (run as ``python -m jaxorth.tools.NAME``).

- :mod:`jaxorth.tools.layering`: the import rules between packages (DESIGN.md).
"""
