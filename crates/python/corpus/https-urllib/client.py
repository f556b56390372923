import ssl
import urllib.request

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
with urllib.request.urlopen('https://localhost:9067/private', context=context) as r:
    print(r.status, r.read())
