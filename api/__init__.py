"""The HTTP API, the web chat page and the Slack app, all over `assistant.service.Assistant`."""
