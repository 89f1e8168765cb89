"""Vouchers (seed 001): a value voucher in money or points, a voucher for goods or a service (an
article or a product group), a discount voucher (a percent or an amount off a future purchase, or
credited on a past one: a paid basket).

Each voucher has a unique code signed by the hub (`codes`: a till checks it offline, with the code
key), its own account on the ledger holding what is left of it (`store`), and is redeemed online,
exactly once per unit of it, also when two tills try at the same instant (`redeem`: the account is
locked, the use held and posted). Delivery: credited straight to a card, printed (a PDF with the
code as QR), or e-mailed over SMTP (`delivery`). Status at any time: issued, delivered, partly
redeemed, redeemed (each redemption: where, when, by which till), expired, cancelled.

The package, each module importing only modules listed before it:
  codes     the code's format, its HMAC tag, reading a code offline
  store     the signing key, issuing, looking up, status, cancelling
  redeem    redeeming at a till or web shop against a basket's lines, crediting to a card, a
            discount credited on a paid basket
  delivery  the QR image, the PDF, the e-mail
  campaigns bonus credits: a voucher for each card of an audience, the campaign's cost and uptake
"""
