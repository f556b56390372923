import socket

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect(('127.0.0.1', 9000))
while True:
    msg = input('>>>').strip()
    if msg == 'q':
        break
    client.send(msg.encode('utf-8'))
    print(client.recv(1024).decode('utf-8'))
client.close()
