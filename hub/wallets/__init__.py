"""Cards and their wallets: issue a card, top it up (with the tier's bonus), settle, refund, block,
read its balance and history. The bottom of the domain: everything else that names a card builds
on it."""
