"""The application layer: the use cases that the CLI, the engine service and the HTTP API call
alike. A use case decides what a command means and writes the journal; its callers parse and
render."""
