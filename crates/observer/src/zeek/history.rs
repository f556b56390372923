//! conn.log's `history` string: one letter per event, upper case for the originator.

/// A history letter (Zeek's conn.log documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Letter {
    /// `s`: a SYN without the ACK bit.
    Syn,
    /// `h`: a SYN+ACK.
    SynAck,
    /// `a`: a pure ACK.
    Ack,
    /// `d`: a packet with payload.
    Data,
    /// `f`: a packet with FIN.
    Fin,
    /// `r`: a packet with RST.
    Rst,
    /// `c`: a bad checksum.
    Checksum,
    /// `g`: a content gap.
    Gap,
    /// `t`: retransmitted payload.
    Retransmission,
    /// `w`: a zero window.
    ZeroWindow,
    /// `i`: an inconsistent packet (FIN and RST).
    Inconsistent,
    /// `q`: a multi-flag packet (SYN with FIN or RST).
    MultiFlag,
}

impl Letter {
    fn upper(self) -> char {
        match self {
            Letter::Syn => 'S',
            Letter::SynAck => 'H',
            Letter::Ack => 'A',
            Letter::Data => 'D',
            Letter::Fin => 'F',
            Letter::Rst => 'R',
            Letter::Checksum => 'C',
            Letter::Gap => 'G',
            Letter::Retransmission => 'T',
            Letter::ZeroWindow => 'W',
            Letter::Inconsistent => 'I',
            Letter::MultiFlag => 'Q',
        }
    }

    /// The bit recording "seen once" (Zeek's `HistoryMasks`); SYN and SYN+ACK share one.
    fn mask(self) -> u32 {
        match self {
            Letter::Syn | Letter::SynAck => 0x1,
            Letter::Fin => 0x2,
            Letter::Rst => 0x4,
            Letter::Inconsistent => 0x8,
            Letter::Data => 0x10,
            Letter::Ack => 0x20,
            Letter::MultiFlag => 0x40,
            Letter::Checksum => 0x80,
            Letter::Retransmission => 0x100,
            Letter::ZeroWindow => 0x200,
            Letter::Gap => 0x400,
        }
    }
}

/// A logarithmic counter: the letter is written at the 1st, 10th, 100th … event.
#[derive(Clone, Copy, Debug)]
pub(super) struct Scaled {
    count: u32,
    threshold: u32,
}

impl Default for Scaled {
    fn default() -> Self {
        Scaled {
            count: 0,
            threshold: 1,
        }
    }
}

/// The history string and which once-only letters it holds.
#[derive(Debug, Default)]
pub(super) struct History {
    pub text: String,
    seen: u32,
}

impl History {
    /// Write the letter if this side has not had it yet; true if it had.
    pub fn check(&mut self, is_orig: bool, letter: Letter) -> bool {
        let mask = if is_orig {
            letter.mask()
        } else {
            letter.mask() << 16
        };
        if self.seen & mask == 0 {
            self.seen |= mask;
            self.add(is_orig, letter);
            return false;
        }
        true
    }

    pub fn add(&mut self, is_orig: bool, letter: Letter) {
        let c = letter.upper();
        self.text
            .push(if is_orig { c } else { c.to_ascii_lowercase() });
    }

    /// Count one event; write the letter when the count reaches 1, 10, 100, ….
    pub fn scaled(&mut self, is_orig: bool, letter: Letter, counter: &mut Scaled) {
        counter.count = counter.count.saturating_add(1);
        if counter.count == counter.threshold {
            self.add(is_orig, letter);
            counter.threshold = counter.threshold.saturating_mul(10);
        }
    }

    /// Zeek turned the connection around.
    pub fn flipped(&mut self) {
        self.text.push('^');
    }
}
