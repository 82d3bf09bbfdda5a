"""cdomail relay: a durable bridge from legacy senders to a modern upstream (issue 15)."""
