# TLS's handshake on top of TCP's: a server and a client that talk through TLS 1.3, as HTTPS
# does, the client checking the server's certificate.
#   packetlab py scenarios/python/tls_server.py scenarios/python/tls_client.py
# First TCP's three-way handshake; then TLS's: the client's ClientHello, the server's
# ServerHello (and, encrypted already, its certificate and Finished), the client's Finished:
# one more round trip before the first byte of data. Then the data, as Application Data
# records: on the wire, nobody can read it. The capture carries the session's keys, so
# Wireshark decrypts it (Follow → TLS Stream), with no setup.
#
# The certificate is a self-signed one made for this lesson (key and all: not a secret).
# A run with TLS is not the same bytes twice: OpenSSL draws its own random numbers.
#
# On Linux's lo, OpenSSL writes to the socket itself: its two session tickets leave in two
# segments, where packetlab's TLS, which runs on memory buffers, sends them in one, and the
# answer that follows them can carry the FIN. The handshake is the same, but for a byte now
# and then: a signature's length varies with its random numbers.
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
server = socket.create_server(('127.0.0.1', 8443))
with context.wrap_socket(server, server_side=True) as tls_server:
    conn, address = tls_server.accept()
    print('handshake done:', conn.version(), conn.cipher()[0])
    request = conn.recv(1024)
    print('request:', request)
    conn.sendall(b'the secret is ' + request.upper())
    conn.close()
