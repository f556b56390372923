# The course's first TCP client: send what the user types, print the answer; `q` quits.
import socket

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect(('127.0.0.1', 8080))  # 拨电话
while True:
    msg = input('>>>').strip()
    if msg == 'q':
        break
    if not msg:
        continue
    client.send(msg.encode('utf-8'))
    data = client.recv(1024)
    print(data.decode('utf-8'))
client.close()
