"""Blueprint Assistant: question answering over role blueprints with verifiable citations."""
