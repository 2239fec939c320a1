"""Knoten composition root: configuration, HTTP app, CLI and web pages."""
