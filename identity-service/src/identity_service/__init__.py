"""Identity and access: accounts, tokens, signing keys."""
