"""The coalition's money settled by period (seed 004): who owes whom for the visitors' money."""
