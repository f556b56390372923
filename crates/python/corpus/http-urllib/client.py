import urllib.request

with urllib.request.urlopen('http://127.0.0.1:9050/index.html') as response:
    print(response.status, response.reason, response.headers['Content-Type'])
    print(response.read())
