"""jaxorth.hessian (work in progress)."""

__all__: list[str] = []
