import modhost
# café in Latin-1
