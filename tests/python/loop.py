import modhost

while True:
    try:
        pass
    except BaseException:
        pass
