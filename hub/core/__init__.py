"""The hub core: record model, hooks, plugin manager, router, store, daemon, CLI."""
