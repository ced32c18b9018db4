"""hub plugin: Bürgerkoffer uploads and passport/ID-card applications."""
