"""The path every request takes, whatever front-end brought it: decode, bind, a chain of stages,
encode; metrics and the prediction log as hooks on it."""
