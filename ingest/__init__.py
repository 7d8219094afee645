"""Ingestion: read blueprint sources, split them into chunks, and index them in Chroma."""
