"""What a card can be and become (seed 002): kinds, digital cards and their QR codes, an RFID card
linked to a digital wallet, a lost card replaced, a debit card's statement. Built on hub.wallets
(the card and its money), hub.loyalty and hub.gifts (what moves along with a card)."""
