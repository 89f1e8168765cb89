"""Sales at an outlet's till: baskets quoted, paid (money, points, gift vouchers) and refunded,
and points bought."""
