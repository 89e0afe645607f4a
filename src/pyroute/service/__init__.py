"""``pyroute serve``: the router as an ASGI service (needs ``pip install "pyroute[serve]"``)."""

from .app import Service, build_app, openapi_document, parse_tokens

__all__ = ["Service", "build_app", "openapi_document", "parse_tokens"]
