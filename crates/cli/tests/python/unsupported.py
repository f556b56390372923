import threading


def work():
    pass


threading.Thread(target=work).start()
