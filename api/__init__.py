"""The JSON API under /api/v1/: the same selectors, availability module and booking service as the pages,
under the same permissions. OpenAPI schema at /api/schema/, docs at /api/docs/."""
