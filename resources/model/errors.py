"""The one error every layer raises for bad input."""


class ConfigError(ValueError):
    """Bad input, found before anything starts. The message names the field and the fix."""
