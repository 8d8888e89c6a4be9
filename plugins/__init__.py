"""The five built-in permit types, each an ordinary ``permits.plugins`` entry point."""
