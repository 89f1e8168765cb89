"""The migrations, one file each, oldest first (0001_baseline: the schema of the release before
migrations). Made with `tapgift db revision -m ...`, then read over; never edited once released."""
