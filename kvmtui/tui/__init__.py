"""The Textual app: views and drivers around the engine's records. No kernel logic lives here."""
