import socket

client = socket.create_connection(('127.0.0.1', 9003))
client.sendall(b'about to fail')
raise ValueError('the learner made a mistake')
