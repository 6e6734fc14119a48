"""jaxorth.linalg (work in progress)."""

__all__: list[str] = []
