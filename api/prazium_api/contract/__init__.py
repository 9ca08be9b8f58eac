"""The REST contract on the wire: answer and request bodies (pydantic), the views
that fill the answers from typed custom resources, the error envelope and the
OpenAPI document. Imports nothing else of the API (only the kit)."""
