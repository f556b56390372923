import urllib.request

for path in ('/one', '/two', '/three'):
    with urllib.request.urlopen('http://127.0.0.1:9052' + path) as r:
        print(r.status, r.read())
