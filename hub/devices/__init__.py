"""Controllers (devices): registered with their key, price and account (`registry`), managed
remotely: commands, deny lists, health telemetry (`management`)."""
