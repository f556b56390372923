import http.client
import urllib.request

for page in ('/a', '/b', '/c'):
    with urllib.request.urlopen('http://127.0.0.1:8088' + page) as response:
        print('urllib', page, response.read())

conn = http.client.HTTPConnection('127.0.0.1', 8088)
for page in ('/a', '/b', '/c'):
    conn.request('GET', page, headers={'Connection': 'close'} if page == '/c' else {})
    print('keep-alive', page, conn.getresponse().read())
conn.close()
