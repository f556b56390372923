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
KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg8m/60qvcjS2vU3tQ
/hYswUUoPJ5rZYXVgUgIInFMuiyhRANCAASL5F1qr5JnafS09dVDWMBTFOL12dDk
OcBvf3hLJ8qkjOllqjycYktMfZap7adUtg9fWFfIxPgeQFtwnspaq5Ht
-----END PRIVATE KEY-----
"""
with open('cert.pem', 'w') as f:
    f.write(CERT)
with open('key.pem', 'w') as f:
    f.write(KEY)

context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain('cert.pem', 'key.pem')
server = socket.create_server(('127.0.0.1', 9060))
with context.wrap_socket(server, server_side=True) as tls_server:
    conn, _ = tls_server.accept()
    print('server:', conn.version(), conn.recv(1024))
    conn.sendall(b'encrypted answer')
    conn.close()
    try:
        tls_server.accept()
    except ssl.SSLError as e:
        print('server: the second handshake failed:', e.reason)
