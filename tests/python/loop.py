import modhost

modhost.log("looping")
while True:
    try:
        pass
    except BaseException:
        pass
