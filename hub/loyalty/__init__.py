"""The loyalty core (seeds 002 and 003): sites and outlets, the catalogue, card discounts, the
bonus-point rule engine (`point_rules`, pure) and points kept as dated lots (`points`)."""
