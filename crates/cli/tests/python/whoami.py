# Who am I, and what may I do? Prints what the kernel says about this process, and leaves a
# file and a symbolic link in its working folder.
import os

status = {}
with open('/proc/self/status') as f:
    for line in f:
        key, _, value = line.partition(':')
        status[key] = value.strip()
print('uid', os.getuid(), 'euid', os.geteuid())
print('CapEff', status['CapEff'])
print('CapPrm', status['CapPrm'])
print('NoNewPrivs', status['NoNewPrivs'])
with open('left.txt', 'w') as f:
    f.write('made by the program\n')
os.mkdir('sub')
with open('sub/deeper.txt', 'w') as f:
    f.write('deeper\n')
os.symlink('/etc/shadow', 'shadow')
os.mkfifo('pipe')
try:
    with open(os.path.join(os.path.dirname(os.environ['PACKETLAB_BRIDGE']), 'planted'), 'w'):
        pass
    print('run folder writable True')
except OSError:
    print('run folder writable False')
