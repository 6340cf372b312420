"""The ``fedstake`` commands, grouped by who runs them; ``federation.cli`` assembles them.

``common`` holds what every command shares (options, amounts, durations, dates, output as
tables or JSON, opening the ledger); ``localchain`` manages the anvil that ``chain up``
starts; the other modules are the command groups.
"""
