"""The Ledger facade, one capability per module (mixed into ``federation.ledger.Ledger``)."""
