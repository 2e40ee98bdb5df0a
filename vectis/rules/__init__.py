"""The rules engine: rules an operator writes (trigger event, conditions, actions drawn from the
write verbs) and their executions. `model` validates and normalizes rules and renders their
action parameters; `conditions` addresses and evaluates the event context."""
