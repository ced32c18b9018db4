"""hub plugin: XMeld 25.11a messages for the Meldebehörde."""
