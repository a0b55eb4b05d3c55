"""The read API's routers: one module per family of routes, all GET, each with its response model."""

from services.reporting.routers import areas, lists

ROUTERS = [areas.router, lists.router]
