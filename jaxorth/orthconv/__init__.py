"""jaxorth.orthconv (work in progress)."""

__all__: list[str] = []
