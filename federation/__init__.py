"""fedstake.federation: everything that talks to Flower or to a chain."""
