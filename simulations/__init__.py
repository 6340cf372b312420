"""fedstake.simulations: attacks, data, models, scenarios, sweeps and reports."""
