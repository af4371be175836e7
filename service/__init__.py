"""HTTP and command line: the FastAPI app, routers, schemas, errors as problem+json, the CLI.
No business rule lives here."""
