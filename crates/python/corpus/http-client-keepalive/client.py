import http.client

conn = http.client.HTTPConnection('127.0.0.1', 9051)
for path in ('/a', '/b', '/c'):
    headers = {'Connection': 'close'} if path == '/c' else {}
    conn.request('GET', path, headers=headers)
    response = conn.getresponse()
    print(response.status, response.read())
conn.close()
