import os

try:
    pid = os.fork()
except OSError as e:
    print('fork refused:', e)
else:
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    print('forked a child and waited for it')
