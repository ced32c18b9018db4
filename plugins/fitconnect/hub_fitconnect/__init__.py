"""hub plugin: FIT-Connect subscriber and sender."""
