//! The send buffer as Linux counts it once `SO_SNDBUF` is set (the Linux profile): not in
//! octets of data but in memory. Linux keeps twice what was asked (`sk_sndbuf`), queues data
//! in buffers (`sk_buff`s) of up to a TSO chunk (half the largest window the peer offered,
//! whole segments, at most 64 KiB), each costing its data and a fixed overhead, and starts a
//! new buffer only while the memory queued is below `sk_sndbuf` (`sk_stream_memory_free`).
//! A writer that had to wait is woken only when the free memory is at least half the memory
//! queued (`sk_stream_write_space`), which is also when `poll` reports the socket writable.

use std::collections::VecDeque;

use crate::seq::SeqNum;

/// What one buffer costs beyond its data (its `sk_buff`, a clone pair as TCP allocates them,
/// and the shared info), as Linux 6.18 on x86_64 charges it: measured over TAP, a
/// non-blocking write of 61,000 octets with a peer window of 20,000 queues 40,000 with
/// SO_SNDBUF 16675 and 30,000 with 16660, four buffers being queued then: between 830 and
/// 837 octets each.
const OVERHEAD: u32 = 832;

/// What may be sent at once while a write copies: a chunk (`tcp_push_one`'s TSO chunk, at
/// most half of cwnd) and in all what cwnd and the peer's window still allow, in octets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Push {
    /// The octets one push sends.
    pub chunk: u32,
    /// The octets cwnd and the peer's window allow in all.
    pub quota: u32,
}

/// Where a write lands: the end of the queue, where the unsent data begins, the size of a
/// full buffer (`size_goal`) and what may be sent while it copies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Queue {
    /// The sequence number after the last octet queued.
    pub end: SeqNum,
    /// The first octet never sent (SND.MAX).
    pub unsent_from: SeqNum,
    /// The octets a full buffer holds.
    pub goal: u32,
    /// What may leave while the write copies.
    pub push: Push,
}

/// Linux's send-buffer memory for one connection.
#[derive(Debug)]
pub(crate) struct SendMemory {
    /// `sk_sndbuf`: twice what `SO_SNDBUF` asked for.
    limit: u32,
    /// The buffers queued, unacknowledged or unsent, as `[start, end)` in sequence space.
    buffers: VecDeque<(SeqNum, SeqNum)>,
    /// A write found no room and waits for `sk_stream_write_space`.
    waiting: bool,
}

impl SendMemory {
    /// The accounting for `SO_SNDBUF = asked`.
    pub fn new(asked: u32) -> Self {
        SendMemory {
            limit: asked.saturating_mul(2),
            buffers: VecDeque::new(),
            waiting: false,
        }
    }

    /// The memory queued: the data and each buffer's overhead.
    fn queued(&self) -> u32 {
        let data: u32 = self.buffers.iter().map(|(a, b)| b.since(*a)).sum();
        data + OVERHEAD * self.buffers.len() as u32
    }

    /// `sk_stream_is_writeable`: free memory at least half the memory queued.
    pub fn writable(&self) -> bool {
        let queued = self.queued();
        self.limit.saturating_sub(queued) >= queued / 2
    }

    /// How much of `len` octets a write queues now; zero while a writer waits for the
    /// wake-up.
    pub fn room(&self, len: usize, queue: Queue) -> usize {
        if self.waiting && !self.writable() {
            return 0;
        }
        self.copy(len, queue).0 as usize
    }

    /// A write could not queue all it had: it waits for `sk_stream_write_space`.
    pub fn block(&mut self) {
        self.waiting = true;
    }

    /// `n` octets were queued, as `room` allowed.
    pub fn add(&mut self, n: u32, queue: Queue) {
        self.buffers = self.copy(n as usize, queue).1;
    }

    /// `tcp_sendmsg`'s copy of `len` octets: the last buffer, if unsent, fills up to the
    /// goal (`tcp_skb_can_collapse_to`); a new buffer starts only while the memory queued
    /// is below the limit (`sk_stream_memory_free`); a buffer that fills at the head of the
    /// unsent data is sent at once as far as `push` allows (`tcp_push_one`), split there
    /// (`tso_fragment`), and its rest filled again. Returns what was taken and the buffers.
    fn copy(&self, len: usize, queue: Queue) -> (u32, VecDeque<(SeqNum, SeqNum)>) {
        let Queue {
            end,
            unsent_from,
            goal,
            push,
        } = queue;
        let mut buffers = self.buffers.clone();
        let (mut queued, mut taken, mut at) = (self.queued(), 0u32, end);
        let (mut head, mut quota) = (unsent_from, push.quota);
        let left = |taken: u32| u32::try_from(len - taken as usize).unwrap_or(u32::MAX);
        loop {
            let open = buffers
                .back()
                .is_some_and(|&(a, b)| a >= head && b == at && b.since(a) < goal);
            if !open {
                if left(taken) == 0 || queued >= self.limit {
                    break;
                }
                buffers.push_back((at, at));
                queued += OVERHEAD;
            }
            let last = buffers.back_mut().expect("a buffer is open");
            let more = (goal - last.1.since(last.0)).min(left(taken));
            if more == 0 {
                break;
            }
            last.1 = last.1 + more;
            (at, taken, queued) = (last.1, taken + more, queued + more);
            let (a, b) = *last;
            if b.since(a) == goal && a == head && quota > 0 {
                let sent = push.chunk.min(quota).min(goal);
                if sent < goal {
                    *last = (a, a + sent);
                    buffers.push_back((a + sent, b));
                    queued += OVERHEAD;
                }
                head = a + sent;
                quota -= sent;
            }
        }
        (taken, buffers)
    }

    /// What left was sent up to `snd_max`: the buffer it ends in is split there, as Linux
    /// cuts a buffer at the end of the chunk it sends (`tso_fragment`).
    pub fn sent(&mut self, snd_max: SeqNum) {
        if let Some(i) = self
            .buffers
            .iter()
            .position(|&(a, b)| a < snd_max && snd_max < b)
        {
            let (a, b) = self.buffers[i];
            self.buffers[i] = (a, snd_max);
            self.buffers.insert(i + 1, (snd_max, b));
        }
    }

    /// Everything before `snd_una` is acknowledged: its buffers are freed, a buffer partly
    /// acknowledged trimmed (`tcp_trim_head`). A waiting writer is woken once writable.
    pub fn acked(&mut self, snd_una: SeqNum) {
        while self.buffers.front().is_some_and(|&(_, b)| b <= snd_una) {
            self.buffers.pop_front();
        }
        if let Some((a, _)) = self.buffers.front_mut() {
            if *a < snd_una {
                *a = snd_una;
            }
        }
        if self.waiting && self.writable() {
            self.waiting = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IW10 on a fresh connection with an MSS of 1000: five segments a push (half of cwnd).
    const IW: Push = Push {
        chunk: 5_000,
        quota: 10_000,
    };

    fn queue(end: u32, unsent_from: u32, goal: u32, push: Push) -> Queue {
        Queue {
            end: SeqNum(end),
            unsent_from: SeqNum(unsent_from),
            goal,
            push,
        }
    }

    /// The kernel's answers to a non-blocking write of 61,000 octets with SO_SNDBUF 21000
    /// and an MSS of 1000, for four peer windows.
    #[test]
    fn a_write_queues_what_linux_queues_for_each_peer_window() {
        for (window, linux) in [
            (20_000u32, 40_000),
            (30_000, 40_000),
            (50_000, 60_000),
            (65_535, 42_000),
        ] {
            let goal = (window / 2 / 1000) * 1000;
            let mem = SendMemory::new(21_000);
            let taken = mem.room(61_000, queue(1, 1, goal, IW));
            assert_eq!(taken, linux, "peer window {window}");
        }
    }

    #[test]
    fn a_waiting_writer_wakes_when_free_memory_is_half_the_queued() {
        // blocking-write: a peer window of 50,000; ACKs at 10001, 30001, then 33001 or 35001.
        let mut mem = SendMemory::new(21_000);
        let goal = 25_000;
        assert_eq!(mem.room(61_000, queue(1, 1, goal, IW)), 60_000);
        mem.add(60_000, queue(1, 1, goal, IW));
        mem.block();
        let none = Push { chunk: 0, quota: 0 };
        assert_eq!(mem.room(1000, queue(60_001, 10_001, goal, none)), 0);
        mem.acked(SeqNum(10_001));
        mem.sent(SeqNum(20_001));
        mem.sent(SeqNum(30_001));
        mem.acked(SeqNum(30_001));
        assert!(!mem.writable(), "30,000 and two buffers queued");
        mem.sent(SeqNum(60_001));
        mem.acked(SeqNum(33_001));
        assert!(!mem.writable(), "27,000 and two buffers queued");
        mem.acked(SeqNum(35_001));
        assert!(mem.writable(), "25,000 and one buffer queued");
        assert_eq!(mem.room(1000, queue(60_001, 60_001, goal, none)), 1000);
    }
}
