import socket
import ssl

CERT = """-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUXgqyZCl3ThaPNgerQ//FBgJNRDMwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNjE0MTQxN1oYDzIxMjYxMTEy
MTQxNDE3WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASL5F1qr5JnafS09dVDWMBTFOL12dDkOcBvf3hLJ8qkjOllqjycYktM
fZap7adUtg9fWFfIxPgeQFtwnspaq5Hto28wbTAdBgNVHQ4EFgQULVhOGdWB6ukS
DnL+uo6f9sr3Y+owHwYDVR0jBBgwFoAULVhOGdWB6ukSDnL+uo6f9sr3Y+owDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIhAJ0zKr6iNK9bbM0WTAptZ/bUABMXeuACGqTt+tKxeAk0AiAN
ngy0hYnNLAive6xjXcgpWxEIIM6L5LMn09SOURGxaQ==
-----END CERTIFICATE-----
"""
with open('ca.pem', 'w') as f:
    f.write(CERT)

context = ssl.create_default_context(cafile='ca.pem')
with socket.create_connection(('127.0.0.1', 8443)) as raw:
    with context.wrap_socket(raw, server_hostname='localhost') as tls:
        print('the server is', dict(x[0] for x in tls.getpeercert()['subject'])['commonName'])
        tls.sendall(b'open sesame')
        print('answer:', tls.recv(1024))
