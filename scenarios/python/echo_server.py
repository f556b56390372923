# The course's first TCP server: accept one client, send back what it sends, in capitals,
# until it closes.  Run it with its client:
#   packetlab py scenarios/python/echo_server.py scenarios/python/echo_client.py \
#       --stdin echo_client.py='hello\nnetworks\nq\n'
#
# On Linux's lo, the same packets, flags and options (a test checks it); only the windows
# differ: Linux scales them by 2^10 on lo and grows them as it goes, packetlab's stay at 64 KiB.
import socket

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # 买手机
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('127.0.0.1', 8080))  # 插手机卡
server.listen(5)  # 开机 (半连接池 of 5)
print('starting...')

conn, client_addr = server.accept()  # 等电话
print(client_addr)
while True:
    data = conn.recv(1024)  # 收消息
    if not data:  # the client closed: recv returns b''
        break
    print('客户端的数据', data)
    conn.send(data.upper())  # 发消息
conn.close()  # 挂电话
server.close()  # 关机
