import select
import time

print('started at', time.time())
while True:
    select.select([], [], [], 0)  # polls, never waits: on Linux it spins at 100 % CPU
