"""Reports an outlet's owner reads: sales, top-ups, points, vouchers, attendance, machines (seed 000, 004)."""
