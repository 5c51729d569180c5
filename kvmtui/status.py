"""The exit statuses of every command: 0 fine, 1 expectations unmet (or differences), 2 bad input or usage,
3 a backend not available. Where several files each end differently, the command exits with the highest."""

EXIT_OK, EXIT_UNMET, EXIT_BAD_INPUT, EXIT_UNAVAILABLE = 0, 1, 2, 3
