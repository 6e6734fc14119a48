"""jaxorth.quant (work in progress)."""

__all__: list[str] = []
