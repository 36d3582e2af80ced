"""The search engine and the workflow engine: client factories and the embedded engines."""
