"""jaxorth.sparse (work in progress)."""

__all__: list[str] = []
