# Downloads the 1 MiB with urllib and checks it.
import hashlib
import urllib.request

with urllib.request.urlopen('http://127.0.0.1:8091/video.mp4') as response:
    data = response.read()
print(len(data), hashlib.sha256(data).hexdigest()[:16])
