"""jaxorth.dln (work in progress)."""

__all__: list[str] = []
