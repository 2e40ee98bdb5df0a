"""Human approval of AI writes: the policy, the sealed state of an inline confirmation, and the
queue of writes waiting for an operator (docs/writes.md, "Human approval")."""
