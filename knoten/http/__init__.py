"""HTTP plumbing of the composition root: errors, middleware, request parsing, OpenAPI."""
