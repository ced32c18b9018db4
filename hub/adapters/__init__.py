"""Built-in adapters. They are plugins like any vendor's: entry points in the group ``hub``."""
