import socket

s = socket.socket()
print('before')
raise ValueError('the learner made a mistake')
