//! A byte queue for the send and receive buffers: appends and removals from the front are
//! whole-slice copies, not octet-by-octet pushes.

/// Octets in order; the front is consumed, the back appended to.
#[derive(Debug, Default)]
pub(crate) struct ByteQueue {
    bytes: Vec<u8>,
    /// Octets before this are consumed; they are dropped once they are half the vector.
    head: usize,
}

impl ByteQueue {
    pub fn len(&self) -> usize {
        self.bytes.len() - self.head
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append octets at the back.
    pub fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
    }

    /// The octets from `offset` for `len`.
    pub fn slice(&self, offset: usize, len: usize) -> &[u8] {
        &self.bytes[self.head + offset..self.head + offset + len]
    }

    /// Drop `n` octets from the front.
    pub fn consume(&mut self, n: usize) {
        self.head += n.min(self.len());
        if self.head == self.bytes.len() {
            self.bytes.clear();
            self.head = 0;
        } else if self.head > self.bytes.len() / 2 {
            self.bytes.drain(..self.head);
            self.head = 0;
        }
    }

    /// Remove and return up to `n` octets from the front.
    pub fn take_front(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.len());
        let out = self.slice(0, n).to_vec();
        self.consume(n);
        out
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_survives_compaction() {
        let mut q = ByteQueue::default();
        q.push(b"hello ");
        q.push(b"world");
        assert_eq!(q.take_front(3), b"hel");
        q.consume(3);
        assert_eq!(q.slice(0, q.len()), b"world");
        q.push(b"!");
        assert_eq!(q.take_front(100), b"world!");
        assert!(q.is_empty());
    }
}
